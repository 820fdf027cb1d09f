import Foundation
import Prometheus

/// What `/metrics` exposes (Prometheus text format): requests by route and status with latency
/// histograms, waits for a database connection, and how far the projections are behind the log.
/// Labels carry route patterns (`/api/workers/{id}`), never ids, names or anything a person typed.
public final class ServerMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    private let poolWaits: DurationHistogram
    private let lag: Gauge
    private let sessionsGauge: Gauge
    static let buckets: [Duration] = [
        .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10),
    ]

    public init() {
        poolWaits = registry.makeDurationHistogram(
            descriptor: MetricNameDescriptor(
                metricName: "dossier_pool_wait", unitName: "seconds", helpText: "Time a request waited for a database connection"),
            buckets: Self.buckets)
        lag = registry.makeGauge(
            descriptor: MetricNameDescriptor(
                metricName: "dossier_projection_lag", unitName: "events", helpText: "Events of the log the projections do not reflect yet"))
        sessionsGauge = registry.makeGauge(
            descriptor: MetricNameDescriptor(metricName: "dossier_browser_sessions", helpText: "Live browser sessions"))
    }

    public func request(route: String, method: String, status: Int, duration: Duration) {
        let labels = [("route", route), ("method", method), ("status", String(status))]
        registry.makeCounter(
            descriptor: MetricNameDescriptor(metricName: "dossier_http_requests", unitName: "total", helpText: "HTTP requests served"),
            labels: labels
        ).increment()
        registry.makeDurationHistogram(
            descriptor: MetricNameDescriptor(
                metricName: "dossier_http_request_duration", unitName: "seconds", helpText: "HTTP request latency"),
            labels: labels, buckets: Self.buckets
        ).record(duration)
    }

    func poolWait(_ duration: Duration) { poolWaits.record(duration) }

    public func projectionLag(_ events: Int64) { lag.set(Double(events)) }

    public func sessions(_ count: Int) { sessionsGauge.set(Double(count)) }

    public func text() -> String { registry.emitToString() }
}
