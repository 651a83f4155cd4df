// The configuration Patrol runs with when no --config is given: it watches itself, so a
// newcomer sees live probes, scraped metrics and stored history straight away.

export function defaultConfigText(listen: string): string {
  return `# Built-in default: Patrol inspects itself.
global:
  scrape_interval: 15s
  evaluation_interval: 15s
scrape_configs:
  - job_name: patrol
    static_configs:
      - targets: ['${listen}']
probes:
  - name: patrol-health
    type: http
    target: http://${listen}/-/healthy
    interval: 15s
    timeout: 5s
    labels:
      service: patrol
  - name: patrol-metrics
    type: http
    target: http://${listen}/metrics
    interval: 30s
    timeout: 5s
    labels:
      service: patrol
`;
}
