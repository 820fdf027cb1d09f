import ArgumentParser
import DossierServer
import DossierStore
import Foundation
import Logging

extension Dossier {
    /// Serves the JSON API and the web interface.
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Serve the JSON API and the web interface (each person logs in as themselves).",
            discussion: """
                Binds 127.0.0.1:8080 by default; put a TLS reverse proxy (nginx) in front to serve other \
                machines (see the README), with --secure-cookies. The server's login must hold the \
                dossier_gateway role (dossier init grants it to the operating-system user on the embedded \
                default). Stops cleanly on SIGTERM or SIGINT: in-flight requests finish, connections close.
                """)

        @Option(help: "Address and port to listen on.") var listen = "127.0.0.1:8080"
        @Option(help: "Database connections (each on its own thread).") var connections = 8
        @Flag(help: "Mark session cookies Secure (when a TLS proxy serves the pages).") var secureCookies = false
        @OptionGroup var database: DatabaseOptions

        func validate() throws {
            guard Self.parse(listen: listen) != nil else {
                throw ValidationError("--listen takes HOST:PORT, such as 127.0.0.1:8080, not \"\(listen)\"")
            }
            guard (1...64).contains(connections) else { throw ValidationError("--connections takes 1 to 64") }
        }

        static func parse(listen: String) -> (host: String, port: Int)? {
            guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]),
                (0...65535).contains(port)
            else { return nil }
            var host = String(listen[..<colon])
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            return host.isEmpty ? nil : (host, port)
        }

        func run() async throws {
            try await CLI.run {
                let (host, port) = Self.parse(listen: listen)!
                var logger = Logger(label: "dossier.serve")
                logger.logLevel = .info
                var settings = ServerSettings(host: host, port: port, connections: connections, secureCookies: secureCookies)
                // Workers' records and traces from the API are read on the standby when there is one.
                if let url = ProcessInfo.processInfo.environment["DOSSIER_READ_URL"], !url.isEmpty {
                    settings.standby = DatabaseConfiguration(connectionString: url, label: DatabaseOptions.standbyLabel)
                }
                try await DossierService.run(configuration: try database.configuration(), settings: settings, logger: logger)
            }
        }
    }
}
