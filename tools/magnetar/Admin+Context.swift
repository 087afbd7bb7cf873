import ArgumentParser
import Foundation

extension Admin {
    /// `context set|use|list|current|delete`: named admin URLs in the configuration file
    /// (see ``AdminConfig``), like pulsarctl's contexts.
    struct ContextCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "context",
            abstract: "Name admin URLs and choose the one commands use.",
            discussion: "The file is $MAGNETAR_CONFIG, else ~/.config/magnetar/config.json.",
            subcommands: [Set.self, Use.self, List.self, Current.self, Delete.self]
        )

        /// Reads the configuration file, applies `change`, writes it back.
        static func update(_ change: (inout AdminConfig) throws(AdminError) -> Void) throws {
            let path = AdminConfig.path()
            do {
                var config = try AdminConfig.load(from: path)
                try change(&config)
                try config.save(to: path)
            } catch {
                try Admin.fail(error)
            }
        }

        /// The configuration file's contents.
        static func load() throws -> AdminConfig {
            do {
                return try AdminConfig.load(from: AdminConfig.path())
            } catch {
                try Admin.fail(error)
            }
        }

        struct Set: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Add or change a context; the first one becomes current.")
            @Argument(help: "The context's name.") var name: String
            @Option(name: .customLong("admin-url"), help: "Its admin URL, e.g. http://broker:8080.") var adminURL: String

            func run() throws {
                guard self.adminURL.lowercased().hasPrefix("http://") else { throw ValidationError("--admin-url must start with http://") }
                try ContextCommand.update { config in
                    config.contexts[self.name] = AdminConfig.Context(adminURL: self.adminURL)
                    if config.current == nil { config.current = self.name }
                }
                print("set context \(self.name)")
            }
        }

        struct Use: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Make a context the current one.")
            @Argument(help: "The context's name.") var name: String

            func run() throws {
                try ContextCommand.update { (config: inout AdminConfig) throws(AdminError) in
                    guard config.contexts[self.name] != nil else { throw AdminError(.configuration, "there is no context '\(self.name)'") }
                    config.current = self.name
                }
                print("using context \(self.name)")
            }
        }

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List the contexts, the current one marked with *.")

            func run() throws {
                let config = try ContextCommand.load()
                for name in config.contexts.keys.sorted() {
                    print("\(name == config.current ? "*" : " ") \(name)\t\(config.contexts[name]!.adminURL)")
                }
            }
        }

        struct Current: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Print the current context's name.")

            func run() throws {
                guard let current = try ContextCommand.load().current else {
                    try Admin.fail(AdminError(.configuration, "no context is current; commands use \(AdminConfig.defaultAdminURL)"))
                }
                print(current)
            }
        }

        struct Delete: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Delete a context.")
            @Argument(help: "The context's name.") var name: String

            func run() throws {
                try ContextCommand.update { (config: inout AdminConfig) throws(AdminError) in
                    guard config.contexts.removeValue(forKey: self.name) != nil else {
                        throw AdminError(.configuration, "there is no context '\(self.name)'")
                    }
                    if config.current == self.name { config.current = nil }
                }
                print("deleted context \(self.name)")
            }
        }
    }
}
