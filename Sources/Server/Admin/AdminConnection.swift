import Config
import EventLoop
import HTTP1Codec
import Transport

/// One admin connection: `GET /ready` (200 serving, 503 draining), `GET /healthz` (200 while the process runs),
/// `GET /metrics` (Prometheus text), `/config` (YAML, redacted), `/clusters`, `/listeners`, `/stats.json` (JSON)
/// and `/` (the dashboard page); `HEAD` for each, answered without a body; `POST /reload`. Plain HTTP/1.1.
///
/// Bounded like a proxy connection: a pipelined request is processed only after the previous answer has left
/// the process (been taken by the kernel), so a client that sends requests and never reads holds at most one
/// answer and one read's worth of unprocessed input here, never an answer per request. A request head must
/// arrive within `limits.header_read_timeout` of its first byte, and a connection that makes no progress (no
/// request, or an answer it does not read) for `limits.idle_timeout` is closed. Loop-confined (admin loop).
final class AdminConnection: TCPConnectionDelegate {
    private let tcp: TCPConnection
    private let endpoint: AdminEndpoint
    private var parser = HTTP1RequestParser(limits: HTTP1Limits(maxHeaderBytes: 8 * 1024, maxHeaderCount: 50, maxBodyBytes: 1024))
    /// Input read after a request whose answer is still queued in `tcp`; reading is paused while it is non-empty
    /// or an answer is queued, so it never holds more than what one read returned (the loop's 64 KiB buffer).
    private var pendingInput: [UInt8] = []
    private var waitingForDrain = false
    /// An answer is being gathered from the workers (`/metrics`, `/clusters`, ...): later input waits in
    /// `pendingInput`.
    private var waitingForAnswer = false
    /// Inside `endpoint.answer`: an answer that comes back at once is written without resuming the input.
    private var answeringNow = false
    /// An answer with `Connection: close` was sent: nothing after that request is processed (RFC 9112 §9.6).
    private var closing = false
    private var closed = false
    /// Last read or drained answer; the idle deadline counts from here.
    private var lastActivity: UInt64
    /// Arrival of the first byte of a request head not yet complete; the header deadline counts from here.
    private var headStartedAt: UInt64?
    /// One lazily re-armed timer for both deadlines: when it fires early it re-arms for what remains.
    private var timer: TimerHandle?
    private var timerDeadline: UInt64 = 0

    init(fd: Int32, endpoint: AdminEndpoint) {
        self.endpoint = endpoint
        lastActivity = endpoint.loop.now
        tcp = TCPConnection(loop: endpoint.loop, fd: fd, readBuffer: endpoint.readBuffer)
        tcp.delegate = self
        armTimer()
    }

    // MARK: Input

    func connectionDidConnect(_ connection: TCPConnection) {}

    func connectionDidRead(_ connection: TCPConnection, _ bytes: UnsafeRawBufferPointer) {
        lastActivity = endpoint.loop.now
        if waitingForDrain || waitingForAnswer {
            pendingInput.append(contentsOf: bytes)
            return
        }
        process(bytes)
        armTimer()
    }

    /// Parses and answers requests until the input runs out or an answer stays queued.
    private func process(_ bytes: UnsafeRawBufferPointer) {
        var offset = 0
        while !closed && !closing {
            let input = UnsafeRawBufferPointer(rebasing: bytes[offset...])
            let event: HTTP1ParseEvent
            let consumed: Int
            do {
                (event, consumed) = try parser.next(input)
            } catch {
                reply(error.status, error.reason + "\n", headOnly: false, close: true)
                return
            }
            offset += consumed
            switch event {
            case .needMoreData:
                // Bytes kept by the parser: a request head has started arriving.
                if consumed > 0 && headStartedAt == nil { headStartedAt = endpoint.loop.now }
                if consumed == 0 { return }
            case .head(let head):
                headStartedAt = nil
                respond(head)
                if waitingForAnswer {
                    // The answer comes back from the workers on a later turn; the rest waits for it.
                    pendingInput.append(contentsOf: bytes[offset...])
                    tcp.pauseReading()
                    return
                }
            case .body:
                break  // admin requests carry no body; a small one is read and ignored
            case .end:
                if tcp.bufferedBytes > 0 && !closed {
                    // The answer did not fit in the socket: the next request waits until it has.
                    waitingForDrain = true
                    pendingInput.append(contentsOf: bytes[offset...])
                    tcp.pauseReading()
                    return
                }
            }
        }
    }

    func connectionDidDrainWrites(_ connection: TCPConnection) {
        guard waitingForDrain, !closed else { return }
        waitingForDrain = false
        resume()
    }

    /// Processes the input held back while an answer was pending.
    private func resume() {
        lastActivity = endpoint.loop.now
        let input = pendingInput
        pendingInput = []
        tcp.resumeReading()
        input.withUnsafeBytes { process($0) }
        armTimer()
    }

    func connectionDidReadEOF(_ connection: TCPConnection) {
        tcp.closeAfterWrites()
        if tcp.isClosed { finish() }
    }

    func connectionDidClose(_ connection: TCPConnection, errno: Int32) { finish() }

    // MARK: Answers

    private func respond(_ head: HTTPRequestHead) {
        endpoint.stats.requestsTotal.add(1)
        let headOnly = head.method == "HEAD"
        let close = !head.keepAlive
        if head.path == "/reload" {
            // Runs here, on the admin thread: the file is read and checked off the workers, which then switch
            // between two events. 200 with what changed, or 400 with the located error (the old config stays).
            guard head.method == "POST" else {
                reply(405, "POST /reload reloads the config\n", headOnly: false, close: true, extra: [("Allow", "POST")])
                return
            }
            switch endpoint.server.reload() {
            case .success(let summary): reply(200, "reloaded: \(summary)\n", headOnly: false, close: close)
            case .failure(let error): reply(400, "not reloaded: \(error)\n", headOnly: false, close: close)
            }
            return
        }
        guard head.method == "GET" || headOnly else {
            reply(405, "admin endpoints answer GET and HEAD only\n", headOnly: false, close: true,
                  extra: [("Allow", "GET, HEAD")])
            return
        }
        switch head.path {
        case "/ready":
            if endpoint.server.isDraining {
                reply(503, "draining\n", headOnly: headOnly, close: close)
            } else {
                reply(200, "ready\n", headOnly: headOnly, close: close)
            }
        case "/healthz":
            reply(200, "ok\n", headOnly: headOnly, close: close)
        default:
            waitingForAnswer = true
            answeringNow = true
            // A query (`/stats.json?t=...`, a cache buster) does not change the answer.
            let path = String(head.path.prefix { $0 != "?" })
            let known = endpoint.answer(path) { [self] answer in
                guard waitingForAnswer, !closed else { return }
                waitingForAnswer = false
                reply(answer.status, answer.body, contentType: answer.contentType, headOnly: headOnly, close: close,
                      extra: [("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff")])
                // Answered at once (`/config`, `/`): `process` goes on with the input itself.
                if closed || closing || answeringNow { return }
                if tcp.bufferedBytes > 0 {
                    waitingForDrain = true  // connectionDidDrainWrites resumes
                } else {
                    resume()
                }
            }
            answeringNow = false
            if !known {
                waitingForAnswer = false
                reply(404, "unknown admin path; try / (dashboard), /ready, /healthz, /metrics, /config, /clusters, /listeners, /stats.json or POST /reload\n",
                      headOnly: headOnly, close: close)
            }
        }
    }

    /// `headOnly` (HEAD): the same head, Content-Length included (RFC 9110 §9.3.2), and no body.
    private func reply(_ status: Int, _ body: String, contentType: String = "text/plain; charset=utf-8", headOnly: Bool,
                       close: Bool, extra: [(String, String)] = []) {
        var out: [UInt8] = []
        var headers: [(String, String)] = [("Content-Type", contentType), ("Content-Length", String(body.utf8.count))]
        headers += extra
        if close { headers.append(("Connection", "close")) }
        HTTP1ResponseWriter.writeHead(status: status, headers: headers, into: &out)
        if !headOnly { out += body.utf8 }
        tcp.write(out)
        if close {
            closing = true
            tcp.closeAfterWrites()
            if tcp.isClosed { finish() }
        }
    }

    // MARK: Deadlines

    private var headerTimeoutNanos: UInt64 { UInt64(endpoint.limits.headerReadTimeout.nanoseconds) }
    private var idleTimeoutNanos: UInt64 { UInt64(endpoint.limits.idleTimeout.nanoseconds) }

    /// While a head is arriving: its header deadline. Otherwise (waiting for a request, or for the client to read an
    /// answer): the idle deadline, if `idle_timeout` is set.
    private func currentDeadline() -> UInt64? {
        if let start = headStartedAt { return start &+ headerTimeoutNanos }
        if idleTimeoutNanos > 0 { return lastActivity &+ idleTimeoutNanos }
        return nil
    }

    private func armTimer() {
        guard !closed, let deadline = currentDeadline() else { return }
        // An earlier timer re-checks when it fires; only a deadline that moved closer needs a new one.
        if timer != nil && timerDeadline <= deadline { return }
        endpoint.loop.cancelTimer(timer)
        timerDeadline = deadline
        let now = MonotonicClock.nowNanos()
        timer = endpoint.loop.scheduleTimer(afterNanos: deadline > now ? deadline - now : 0) { [self] in timerFired() }
    }

    private func timerFired() {
        timer = nil
        guard !closed, let deadline = currentDeadline() else { return }
        guard MonotonicClock.nowNanos() >= deadline else { return armTimer() }
        if headStartedAt != nil {
            Log.debug("admin", "request headers not received within \(endpoint.limits.headerReadTimeout)")
            reply(408, "request headers not received within \(endpoint.limits.headerReadTimeout)\n", headOnly: false, close: true)
            // A client that does not read its 408 either must not keep the connection.
            if !closed { tcp.close(); finish() }
        } else {
            Log.debug("admin", "closing an admin connection idle for \(endpoint.limits.idleTimeout)")
            tcp.close()
            finish()
        }
    }

    private func finish() {
        guard !closed else { return }
        closed = true
        endpoint.loop.cancelTimer(timer)
        timer = nil
        pendingInput = []
        endpoint.connectionClosed(self)
    }
}
