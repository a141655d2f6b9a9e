import Config
import FuzzSupport

private let environment = ["HOME": "/home/u", "PORT": "8080", "UPSTREAM": "127.0.0.1:50051", "BIG": "99999999999999999999"]

/// Config decoding end to end (`ConfigLoader.parse`: YAML, schema, validation) on arbitrary text. Properties: a
/// config or a ConfigError with a message, never a crash (e.g. an overflow on a huge size or duration), and the
/// same outcome for the same text.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let first = outcome(text)
    fuzzCheck(outcome(text) == first, "decoding the same text twice differed")
    return 0
}

private func outcome(_ text: String) -> String {
    do throws(ConfigError) {
        let config = try ConfigLoader.parse(text, file: "fuzz.yaml", environment: environment)
        return "ok \(config)"
    } catch {
        fuzzCheck(!error.message.isEmpty, "empty config error message")
        return "error \(error)"
    }
}

runLibFuzzer(fuzz)
