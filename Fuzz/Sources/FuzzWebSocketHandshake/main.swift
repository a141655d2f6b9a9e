import FuzzSupport
import HTTP1Codec
import WebSocketCodec

/// The WebSocket opening handshake as the proxy sees it: bytes parsed by the HTTP/1.1 request parser, then the
/// head validated. Control byte: [mode]. Mode bit 0 puts a valid upgrade head in front of the fuzzer's extra
/// header lines, so validation gets past the first checks. Properties: validation either throws a 4xx or returns
/// a key that is 24 base64 characters; the accept key and the 101 head can always be built from it.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let mode = input.byte()
    var bytes = input.rest
    if mode & 1 != 0 {
        bytes = Array("GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n".utf8) + bytes
            + Array("Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n".utf8)
    }
    var parser = HTTP1RequestParser()
    let step = try? withBytes(bytes, 0..<bytes.count) { (all) throws(HTTP1ParseError) in try parser.next(all) }
    guard let step, case .head(let head) = step.event else { return 0 }
    let request: WebSocketUpgradeRequest
    do throws(WebSocketHandshakeError) {
        request = try WebSocketHandshake.validate(method: head.method, versionMinor: head.versionMinor,
                                                  headers: head.headers.fields.map { ($0.name, $0.value) })
    } catch {
        fuzzCheck((400..<500).contains(error.status), "handshake refused with status \(error.status)")
        return 0
    }
    fuzzCheck(request.key.utf8.count == 24, "accepted key \(request.key)")
    let accept = WebSocketHandshake.acceptKey(for: request.key)
    fuzzCheck(accept.utf8.count == 28, "accept key \(accept)")
    let response = WebSocketHandshake.responseHead(acceptKey: accept, subprotocol: "grpc-websockets")
    fuzzCheck(response.suffix(4) == [13, 10, 13, 10], "response head not terminated")
    return 0
}

runLibFuzzer(fuzz)
