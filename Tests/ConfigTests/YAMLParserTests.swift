import XCTest
import YAML

final class YAMLParserTests: XCTestCase {
    // MARK: Block collections

    func testBlockMapping() {
        assertYAML("a: 1\nb: two words\nc:\n", "{a: 1, b: two words, c: ~}")
    }

    func testNestedBlockMappings() {
        assertYAML("""
            outer:
              inner:
                leaf: x
              sibling: y
            top: z
            """, "{outer: {inner: {leaf: x}, sibling: y}, top: z}")
    }

    func testBlockSequence() {
        assertYAML("- a\n- b\n-\n- 'd'\n", "[a, b, ~, 'd']")
    }

    func testSequenceOfMappingsIncludingCompactItems() {
        assertYAML("""
            items:
              - name: web
                port: 80
              - name: api
              -
                name: late
            """, "{items: [{name: web, port: 80}, {name: api}, {name: late}]}")
    }

    func testSequenceAtSameIndentationAsItsKey() {
        assertYAML("a:\n- 1\n- 2\nb: 3\n", "{a: [1, 2], b: 3}")
    }

    func testNestedSequencesOnOneLine() {
        assertYAML("- - a\n  - b\n- - c\n", "[[a, b], [c]]")
    }

    func testValueOnItsOwnLine() {
        assertYAML("key:\n  value\nnext: [x]\n", "{key: value, next: [x]}")
    }

    func testScalarAndEmptyDocuments() {
        assertYAML("just text", "just text")
        assertYAML("", "~")
        assertYAML("# only a comment\n\n", "~")
        assertYAML("---\n", "~")
    }

    func testDocumentStartMarkerIsOptional() {
        assertYAML("# header\n--- # comment\na: 1\n", "{a: 1}")
        assertYAML("---\na: 1", "{a: 1}")
    }

    func testIndentedRootAndBlankLines() {
        assertYAML("\n\n   a: 1\n\n   b: 2\n", "{a: 1, b: 2}")
    }

    func testNullSpellings() {
        assertYAML("a: ~\nb: null\nc: Null\nd: NULL\ne: nullx\nf: \"null\"\n", "{a: ~, b: ~, c: ~, d: ~, e: nullx, f: \"null\"}")
    }

    func testCRLFLineEndings() {
        assertYAML("a: 1\r\nb:\r\n  - x\r\n", "{a: 1, b: [x]}")
    }

    func testByteOrderMarkIsIgnored() {
        assertYAML("\u{FEFF}a: 1", "{a: 1}")
    }

    // MARK: Flow collections

    func testFlowSequences() {
        assertYAML("a: [x, y z, 'q']\nb: []\nc: [1, 2,]\n", "{a: [x, y z, 'q'], b: [], c: [1, 2]}")
    }

    func testNestedFlowCollections() {
        assertYAML("m: {k: v, k2: [x, {deep: [1, [2]]}], empty: {}}", "{m: {k: v, k2: [x, {deep: [1, [2]]}], empty: {}}}")
    }

    func testFlowMappingWithoutValuesAndQuotedKeys() {
        assertYAML("{a, \"b c\": 1, 'd':2, e: }", "{a: ~, b c: 1, d: 2, e: ~}")
    }

    func testFlowCollectionsOverSeveralLinesWithComments() {
        assertYAML("""
            list: [
              one,   # first
              two
            ]
            map: {
              a: 1,
              b: 2 }
            """, "{list: [one, two], map: {a: 1, b: 2}}")
    }

    func testFlowPlainScalarsKeepColonsAndURLs() {
        assertYAML("[127.0.0.1:50051, http://a.b/c, 'x: y']", "[127.0.0.1:50051, http://a.b/c, 'x: y']")
    }

    // MARK: Scalars

    func testPlainScalarsKeepInnerPunctuation() {
        assertYAML("a: b:c, d]e {f} -g #h\n", "{a: b:c, d]e {f} -g}")
        assertYAML("a: x#y # real comment\n", "{a: x#y}")
        assertYAML("path: /a/b   \n", "{path: /a/b}")
    }

    func testSingleQuoted() {
        assertYAML("a: 'it''s # not a comment'\nb: ''\n", "{a: 'it's # not a comment', b: ''}")
    }

    func testDoubleQuotedEscapes() {
        guard let node = parseYAML(#"a: "q\" b\\ n\n t\t u\u00e9 U\U0001F600 x\x41 s\/ p\uD83D\uDE00""#) else { return }
        XCTAssertEqual(node["a"]?.scalar, "q\" b\\ n\n t\t u\u{e9} U\u{1F600} xA s/ p\u{1F600}")
    }

    func testQuotedKeysAndValuesAreNotTyped() {
        guard let node = parseYAML("\"a b\": \"\"\n'c': 'true'\n") else { return }
        guard case .scalar("", .doubleQuoted)? = node["a b"]?.kind else { return XCTFail("\(render(node))") }
        guard case .scalar("true", .singleQuoted)? = node["c"]?.kind else { return XCTFail("\(render(node))") }
    }

    func testNonASCIIText() {
        assertYAML("grüße: ünïcödé ✓\n", "{grüße: ünïcödé ✓}")
    }

    // MARK: Comments

    func testComments() {
        assertYAML("""
            # leading
            a: 1 # trailing
              # indented comment line
            b: "x # y" # after quotes
            c: [p, q] # after flow
            """, "{a: 1, b: \"x # y\", c: [p, q]}")
    }

    // MARK: Positions

    func testPositionsOfNodesAndKeys() throws {
        let node = try YAMLParser.parse("""
            top:
              list:
                - name: x
                  port: 'p'
              flow: [a, {b: c}]
              empty:
            """)
        XCTAssertEqual(node.position, YAMLPosition(line: 1, column: 1))
        let top = try XCTUnwrap(node["top"])
        XCTAssertEqual(top.position, YAMLPosition(line: 2, column: 3))
        let list = try XCTUnwrap(top["list"])
        XCTAssertEqual(list.position, YAMLPosition(line: 3, column: 5))
        let item = try XCTUnwrap(list.sequence?.first)
        XCTAssertEqual(item.position, YAMLPosition(line: 3, column: 7))
        XCTAssertEqual(item["name"]?.position, YAMLPosition(line: 3, column: 13))
        XCTAssertEqual(item["port"]?.position, YAMLPosition(line: 4, column: 13))
        XCTAssertEqual(item.mapping?[1].keyPosition, YAMLPosition(line: 4, column: 7))
        let flow = try XCTUnwrap(top["flow"])
        XCTAssertEqual(flow.position, YAMLPosition(line: 5, column: 9))
        XCTAssertEqual(flow.sequence?[1].position, YAMLPosition(line: 5, column: 13))
        XCTAssertEqual(flow.sequence?[1]["b"]?.position, YAMLPosition(line: 5, column: 17))
        // An empty value sits just after its colon.
        XCTAssertEqual(top["empty"]?.position, YAMLPosition(line: 6, column: 9))
    }

    func testColumnsCountCharactersNotBytes() {
        assertYAMLError("ü: é: x", line: 1, column: 5, "mapping values are not allowed here; quote the value if it contains ': '")
    }

    // MARK: Errors

    func testTabIndentation() {
        assertYAMLError("a:\n\tb: 1\n", line: 2, column: 1, "tab characters are not allowed in indentation")
        assertYAMLError("a:\n  \tb: 1\n", line: 2, column: 3, "tab characters are not allowed in indentation")
    }

    func testTabsOnBlankLinesAndAfterColonsAreFine() {
        assertYAML("a:\t1\n\t\n\t# comment\nb: 2", "{a: 1, b: 2}")
    }

    func testDuplicateKeys() {
        assertYAMLError("a: 1\nb: 2\na: 3\n", line: 3, column: 1, "duplicate key \"a\"")
        assertYAMLError("m: {x: 1, x: 2}", line: 1, column: 11, "duplicate key \"x\"")
        assertYAMLError("'a': 1\n\"a\": 2", line: 2, column: 1, "duplicate key \"a\"")
    }

    func testUnsupportedFeatures() {
        let blockScalar = "block scalars ('|' and '>') are not supported; use a quoted string with \\n escapes"
        assertYAMLError("a: |\n  text\n", line: 1, column: 4, blockScalar)
        assertYAMLError("a: >-\n  text\n", line: 1, column: 4, blockScalar)
        assertYAMLError("a: &x 1\n", line: 1, column: 4, "anchors ('&') are not supported")
        assertYAMLError("a: *x\n", line: 1, column: 4, "aliases ('*') are not supported; quote the value if you mean a literal '*'")
        assertYAMLError("a: [*]\n", line: 1, column: 5, "aliases ('*') are not supported; quote the value if you mean a literal '*'")
        assertYAMLError("a: !!str 1\n", line: 1, column: 4, "tags ('!') are not supported")
        assertYAMLError("a: 1\n---\nb: 2\n", line: 2, column: 1, "multiple documents are not supported")
        assertYAMLError("a: 1\n...\n", line: 2, column: 1, "multiple documents are not supported")
        assertYAMLError("%YAML 1.2\n---\na: 1", line: 1, column: 1, "directives ('%') are not supported")
        assertYAMLError("? complex\n: value\n", line: 1, column: 1, "complex mapping keys ('? ') are not supported")
        assertYAMLError("--- a: 1\n", line: 1, column: 5, "content after '---' is not supported; start the document on the next line")
    }

    func testStructuralErrors() {
        assertYAMLError("a: b: c\n", line: 1, column: 5, "mapping values are not allowed here; quote the value if it contains ': '")
        assertYAMLError("a: 1\n  b: 2\n", line: 2, column: 3, "unexpected indentation")
        assertYAMLError("a:\n    b: 1\n  c: 2\n", line: 3, column: 3, "unexpected indentation")
        assertYAMLError("a: 1\njust text\n", line: 2, column: 1, "expected a mapping key followed by ':'")
        assertYAMLError("a: 1\n- b\n", line: 2, column: 1, "expected a mapping key, found a sequence item")
        assertYAMLError("a: - b\n", line: 1, column: 4, "a block sequence cannot start on the same line as its key")
        assertYAMLError("- a\n  - b\n", line: 2, column: 3, "unexpected indentation")
        assertYAMLError("a: 'x' y\n", line: 1, column: 8, "unexpected characters after the value")
        assertYAMLError("a: [x]y\n", line: 1, column: 7, "unexpected characters after the value")
        assertYAMLError("a: 'x'# c\n", line: 1, column: 7, "a comment needs a space before '#'")
        assertYAMLError(": v\n", line: 1, column: 1, "empty mapping key")
        assertYAMLError("[a]: 1\n", line: 1, column: 4, "unexpected characters after the value")
    }

    func testQuotedScalarErrors() {
        let unterminated = "unterminated quoted string (quoted strings must end on the line they start)"
        assertYAMLError("a: 'abc\n", line: 1, column: 4, unterminated)
        assertYAMLError("a: \"abc\ndef\"\n", line: 1, column: 4, unterminated)
        assertYAMLError(#"a: "x\qy""#, line: 1, column: 6, "invalid escape sequence '\\q'")
        assertYAMLError(#"a: "\u12G4""#, line: 1, column: 5, "invalid escape sequence: expected 4 hexadecimal digits")
        assertYAMLError(#"a: "\uD800x""#, line: 1, column: 5, "unpaired surrogate in Unicode escape")
        assertYAMLError(#"a: "\U00110000""#, line: 1, column: 5, "invalid Unicode escape (not a Unicode scalar value)")
    }

    func testFlowErrors() {
        assertYAMLError("a: [x, y\n", line: 1, column: 4, "unterminated flow sequence (missing ']')")
        assertYAMLError("a: {x: 1\n", line: 1, column: 4, "unterminated flow mapping (missing '}')")
        assertYAMLError("a: [x, , y]", line: 1, column: 8, "empty entry in flow sequence")
        assertYAMLError("a: [x y\n z]", line: 2, column: 2, "expected ',' or ']' in flow sequence")
        assertYAMLError("a: {x: 1 y: 2}", line: 1, column: 11, "expected ',' or '}' in flow mapping")
        assertYAMLError("a: {[x]: 1}", line: 1, column: 5, "flow collections cannot be mapping keys")
        assertYAMLError("a: [- x]", line: 1, column: 5, "block sequence items ('- ') are not allowed inside a flow collection")
        assertYAMLError("a: [x,#y]", line: 1, column: 7, "'#' cannot start a plain value; quote the value")
        assertYAMLError("a: ]", line: 1, column: 4, "unexpected ']'")
    }

    func testNestingDepthIsBounded() {
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        XCTAssertThrowsError(try YAMLParser.parse(deep)) { error in
            XCTAssertEqual((error as? YAMLError)?.message, "nesting deeper than 64 levels")
        }
        let nestedBlocks = (0..<80).map { String(repeating: "  ", count: $0) + "k\($0):" }.joined(separator: "\n")
        XCTAssertThrowsError(try YAMLParser.parse(nestedBlocks))
        XCTAssertNoThrow(try YAMLParser.parse(deep, maxDepth: 200))
    }

    func testNULIsRejected() {
        assertYAMLError("a: 1\nb: x\u{0}y", line: 2, column: 5, "NUL characters are not allowed")
    }
}
