import FuzzSupport
import YAML

private let environment = ["HOME": "/home/u", "EMPTY": "", "PORT": "8080", "NESTED": "${HOME}", "COLON": "a: b"]

/// The config YAML parser on arbitrary text (made valid UTF-8, as the loader requires). Control byte: [depth].
/// Properties: a tree or a YAMLError with a position inside the text, never a crash or a stack overflow (nesting
/// is bounded by maxDepth), and the same text always parses the same way.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let depth = Int(input.byte() % 80)
    let text = String(decoding: input.rest, as: UTF8.self)
    let first = outcome(text, depth: depth)
    fuzzCheck(outcome(text, depth: depth) == first, "parsing the same text twice differed")
    return 0
}

private func outcome(_ text: String, depth: Int) -> String {
    do throws(YAMLError) {
        return renderYAML(try YAMLParser.parse(text, environment: environment, maxDepth: depth))
    } catch {
        checkYAMLError(error, text: text)
        return "error \(error)"
    }
}

runLibFuzzer(fuzz)
