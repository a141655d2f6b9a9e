import XCTest
import Config

func parseConfig(_ text: String, environment: [String: String] = [:], file: StaticString = #filePath, line: UInt = #line) -> ProxyConfig? {
    do {
        return try ConfigLoader.parse(text, file: "test.yaml", environment: environment)
    } catch {
        XCTFail("unexpected config error: \(error)", file: file, line: line)
        return nil
    }
}

/// Asserts the exact position, key path and message of the first error in `text`.
func assertConfigError(
    _ text: String, line expectedLine: Int, column expectedColumn: Int, path: String, _ message: String,
    environment: [String: String] = [:], file: StaticString = #filePath, line: UInt = #line
) {
    do {
        _ = try ConfigLoader.parse(text, file: "bad.yaml", environment: environment)
        XCTFail("expected a config error: \(message)", file: file, line: line)
    } catch {
        XCTAssertEqual(error.file, "bad.yaml", file: file, line: line)
        XCTAssertEqual(error.line, expectedLine, "line of: \(error)", file: file, line: line)
        XCTAssertEqual(error.column, expectedColumn, "column of: \(error)", file: file, line: line)
        XCTAssertEqual(error.path, path, file: file, line: line)
        XCTAssertEqual(error.message, message, file: file, line: line)
    }
}

/// The repository's `config/` folder, found from this file's path (Tests/ConfigTests/…).
func repositoryConfigDirectory(filePath: String = #filePath) -> String {
    var parts = filePath.split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)
    return parts.joined(separator: "/") + "/config"
}
