import XCTest
import YAML

/// The parser reads a whole document (config files are read whole), so instead of split
/// feeding these tests cut valid documents at every byte boundary and mutate them at random
/// (seeded): every outcome must be a tree or a YAMLError with a sane position, never a crash,
/// and the same input must always give the same result.
final class YAMLRobustnessTests: XCTestCase {
    static let samples = [
        """
        # comment
        listeners:
          - name: web
            address: "127.0.0.1:8080"
            cors: {allow_origins: ['*', "https://*.x.com"], max_age: 1h}
            routes:
              - prefix: /
                headers: {x-a: "1"}
                cluster: b
        clusters:
        - name: b
          endpoints: [127.0.0.1:1, 'h:2']
        """,
        "a: [1, {b: [2, 3]}, \"\\u00e9\\n\"]\nc: 'it''s'\n",
        "k: ${HOME:-/root}\nlist:\n- - a\n  - b\n-\n",
    ]

    func outcome(_ text: String) -> String {
        do {
            return "ok " + render(try YAMLParser.parse(text, environment: ["HOME": "/h"]))
        } catch {
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).count
            XCTAssertGreaterThanOrEqual(error.line, 1)
            XCTAssertLessThanOrEqual(error.line, lines + 1)
            XCTAssertGreaterThanOrEqual(error.column, 1)
            XCTAssertFalse(error.message.isEmpty)
            return "error \(error)"
        }
    }

    func testEveryTruncationParsesOrFailsCleanly() {
        for sample in Self.samples {
            let bytes = Array(sample.utf8)
            for cut in 0...bytes.count {
                let text = String(decoding: bytes[..<cut], as: UTF8.self)
                XCTAssertEqual(outcome(text), outcome(text))
            }
        }
    }

    func testFullSampleParses() {
        XCTAssertTrue(outcome(Self.samples[0]).hasPrefix("ok {listeners: [{name: web"))
    }

    func testRandomMutationsParseOrFailCleanly() {
        var rng = SeededGenerator(seed: 0x5EED_CAFE)
        let alphabet = Array(" \t\n-:#[]{},'\"\\${}|>&*!?%ax0".utf8)
        for _ in 0..<3000 {
            var bytes = Array(Self.samples[Int(rng.next() % UInt64(Self.samples.count))].utf8)
            for _ in 0..<(1 + Int(rng.next() % 4)) {
                let at = Int(rng.next() % UInt64(bytes.count))
                switch rng.next() % 3 {
                case 0: bytes[at] = alphabet[Int(rng.next() % UInt64(alphabet.count))]
                case 1: bytes.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: at)
                default: bytes.remove(at: at)
                }
            }
            _ = outcome(String(decoding: bytes, as: UTF8.self))
        }
    }

    func testCRLFAndLFGiveTheSameTree() {
        for sample in Self.samples {
            let crlf = sample.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\r\n")
            XCTAssertEqual(outcome(sample), outcome(crlf))
        }
    }
}
