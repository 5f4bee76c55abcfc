/**
 * Puts the live view on a control server: `GET /metrics` (Prometheus) and, when there is one, the
 * dashboard's page and event stream. `run` and `up` mount the same way and print the same URLs.
 */
import type { ControlServer } from '../topology/control-server.ts';
import type { LiveDashboard } from './dashboard.ts';
import { createPrometheusExporter, type MetricsSource } from './prometheus.ts';

export const METRICS_PATH = '/metrics';

export interface LiveUrls {
  dashboardUrl?: string;
  metricsUrl?: string;
}

export function mountLive(
  control: Pick<ControlServer, 'mount' | 'url'>,
  parts: { metrics?: MetricsSource; dashboard?: Pick<LiveDashboard, 'routes' | 'pagePath'> },
): LiveUrls {
  const urls: LiveUrls = {};
  if (parts.metrics) {
    control.mount('GET', METRICS_PATH, createPrometheusExporter(parts.metrics).handler);
    urls.metricsUrl = `${control.url}${METRICS_PATH}`;
  }
  if (parts.dashboard) {
    for (const [path, handler] of Object.entries(parts.dashboard.routes)) control.mount('GET', path, handler);
    urls.dashboardUrl = `${control.url}${parts.dashboard.pagePath}`;
  }
  return urls;
}

/** The lines a command prints at start, aligned like `up`'s endpoints. */
export function liveUrlLines(urls: LiveUrls): string[] {
  return [
    ...(urls.dashboardUrl ? [`Live dashboard:     ${urls.dashboardUrl}`] : []),
    ...(urls.metricsUrl ? [`Prometheus:         ${urls.metricsUrl}`] : []),
  ];
}
