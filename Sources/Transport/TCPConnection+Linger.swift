import EventLoop
import Glibc

/// Closing without destroying the last answer. A socket closed while the peer's bytes sit unread makes the kernel
/// send a RST, and a RST can discard data the peer has received but not yet read: the GOAWAY after a protocol
/// error, an error page, the 400 for plain HTTP on a TLS port. So: write everything, send FIN, read and drop what
/// the peer still sends until it closes or `linger` passes, then close (nginx's lingering close).
extension TCPConnection {
    /// Closes gracefully as described above; the delegate hears `connectionDidClose(errno: 0)` at the end.
    public func closeLingering(linger: Duration = .seconds(2)) {
        guard !isClosed, !lingering else { return }
        lingering = true
        shutdownWrite()  // FIN once the queue has drained (close_notify first over TLS)
        lingerTimer = loop.scheduleTimer(after: linger) { [self] in
            lingerTimer = nil
            finishLingering()
        }
        readPaused = false
        updateInterest()
    }

    /// While lingering: whatever arrives is read raw and dropped (over TLS too: nothing more will be decrypted).
    /// Returns true when the read event was handled here.
    func lingerRead() -> Bool {
        guard lingering else { return false }
        for _ in 0..<4 {
            let n = read(fd, readBuffer.pointer.baseAddress, readBuffer.pointer.count)
            if n > 0 { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) { return true }
            // EOF or an error: the peer is done.
            finishLingering()
            return true
        }
        return true
    }

    private func finishLingering() {
        guard !isClosed else { return }
        loop.cancelTimer(lingerTimer)
        lingerTimer = nil
        fail(0)
    }
}
