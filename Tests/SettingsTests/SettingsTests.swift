import ClusterTesting
import Foundation
import Settings
import Testing

@Suite("Settings")
struct SettingsTests {
    static let known: Set<String> = ["journal-dir", "http-port", "journal-sync", "rack"]

    static func problem(_ body: () throws -> Void) -> String? {
        do {
            try body()
            Issue.record("expected a problem")
        } catch let problem as Settings.Problem {
            return problem.description
        } catch {
            Issue.record("unexpected \(error)")
        }
        return nil
    }

    @Test func flagsWinOverTheEnvironmentWhichWinsOverTheFile() throws {
        let directory = try TemporaryDirectory(label: "settings")
        defer { directory.remove() }
        let file = directory.file("bookie.conf")
        try "# comment\njournal-dir = /from/file  # trailing comment\nhttp-port=8001\n\nrack = file-rack\n".write(toFile: file, atomically: true, encoding: .utf8)
        let settings = try Settings(
            file: file, environmentPrefix: "TEST_", known: Self.known,
            environment: ["TEST_HTTP_PORT": "8002", "TEST_RACK": "env-rack", "PATH": "/bin"]
        )
        #expect(settings.string("journal-dir", flag: nil) == "/from/file")
        #expect(settings.string("rack", flag: nil) == "env-rack")
        #expect(settings.string("rack", flag: "flag-rack") == "flag-rack")
        #expect(try settings.value("http-port", flag: nil, default: 0) { Int($0) } == 8002)
        #expect(try settings.bool("journal-sync", flag: nil, default: true) == true)
        #expect(try settings.bool("journal-sync", flag: "false", default: true) == false)
    }

    @Test func mistakesAreClearErrors() throws {
        let directory = try TemporaryDirectory(label: "settings-bad")
        defer { directory.remove() }
        let file = directory.file("bad.conf")
        try "journal-dir = /x\njournal-dri = /y\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(Self.problem { _ = try Settings(file: file, environmentPrefix: "TEST_", known: Self.known, environment: [:]) }
            == "\(file):2: unknown setting 'journal-dri'")
        try "journal-dir /x\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(Self.problem { _ = try Settings(file: file, environmentPrefix: "TEST_", known: Self.known, environment: [:]) }?
            .contains(":1: expected 'name = value'") == true)
        #expect(Self.problem { _ = try Settings(file: directory.file("missing.conf"), environmentPrefix: "TEST_", known: Self.known, environment: [:]) }?
            .contains("cannot read the configuration file") == true)
        #expect(Self.problem { _ = try Settings(file: nil, environmentPrefix: "TEST_", known: Self.known, environment: ["TEST_RAKC": "x"]) }
            == "unknown setting in the environment: TEST_RAKC")
        let settings = try Settings(file: nil, environmentPrefix: "TEST_", known: Self.known, environment: ["TEST_HTTP_PORT": "eighty"])
        #expect(Self.problem { _ = try settings.required("journal-dir", flag: nil) }
            == "missing --journal-dir: give the flag, TEST_JOURNAL_DIR or 'journal-dir =' in a --config file")
        #expect(Self.problem { _ = try settings.value("http-port", flag: nil, default: 0) { Int($0) } } == "bad value 'eighty' for http-port")
        #expect(Self.problem { _ = try settings.bool("journal-sync", flag: "maybe", default: true) } == "bad value 'maybe' for journal-sync")
    }
}
