import XCTest
import YAML

final class YAMLEnvironmentTests: XCTestCase {
    let environment = ["HOST": "10.0.0.7", "PORT": "50051", "EMPTY": "", "GREETING": "hi there"]

    func testSubstitutesInPlainAndQuotedScalars() {
        assertYAML("""
            a: ${HOST}:${PORT}
            b: "${GREETING}!"
            c: '${HOST}'
            d: [${PORT}, x${PORT}y]
            """, "{a: 10.0.0.7:50051, b: \"hi there!\", c: '10.0.0.7', d: [50051, x50051y]}", environment: environment)
    }

    func testDefaults() {
        assertYAML("""
            a: ${MISSING:-fallback}
            b: ${HOST:-unused}
            c: ${EMPTY:-used when empty}
            d: ${MISSING:-}
            e: "${EMPTY}"
            f: ${MISSING:-a:b}
            """, "{a: fallback, b: 10.0.0.7, c: used when empty, d: , e: \"\", f: a:b}", environment: environment)
    }

    func testReferencesInsideFlowCollectionsStayWhole() {
        assertYAML("e: [${HOST}:${PORT}, {k: ${MISSING:-a: b}}]", "{e: [10.0.0.7:50051, {k: a: b}]}", environment: environment)
    }

    func testSubstitutedValuesAreNotReparsed() {
        // A value containing YAML syntax stays one scalar.
        assertYAML("a: ${V}", "{a: [x]: y # z}", environment: ["V": "[x]: y # z"])
    }

    func testEscapedDollarBrace() {
        assertYAML("a: $${HOST} and $HOST and $", "{a: ${HOST} and $HOST and $}", environment: environment)
    }

    func testKeysAreNotSubstituted() {
        assertYAML("${HOST}: 1", "{${HOST}: 1}", environment: environment)
    }

    func testUnsetVariableIsAnError() {
        assertYAMLError("a: 1\nb: x-${NOPE}", line: 2, column: 4,
                        "environment variable \"NOPE\" is not set (use ${NOPE:-default} for a default)")
        assertYAMLError("a: [\"${NOPE}\"]", line: 1, column: 5,
                        "environment variable \"NOPE\" is not set (use ${NOPE:-default} for a default)")
    }

    func testMalformedReferences() {
        assertYAMLError("a: ${HOST", line: 1, column: 4, "unterminated '${' in value (expected '}')", environment: environment)
        assertYAMLError("a: [${HOST]", line: 1, column: 5, "unterminated '${' in value (expected '}')", environment: environment)
        assertYAMLError("a: ${}", line: 1, column: 4, "invalid environment variable name \"\" in '${...}'")
        assertYAMLError("a: ${1X}", line: 1, column: 4, "invalid environment variable name \"1X\" in '${...}'")
        assertYAMLError("a: ${A-B}", line: 1, column: 4, "invalid environment variable name \"A-B\" in '${...}'")
    }
}
