// Reading PromQL well enough to check what the dashboard and the rules
// select: the series selectors of an expression (metric name and label
// matchers), the rules of a rendered PrometheusRule, and the shipper's
// PodMonitor's metric relabelings as Prometheus' own configuration.

import type { K8sObject } from './render.js';

export interface Selector {
  name: string;
  /** The `{...}` part as written, or '' when there is none. */
  matchers: string;
}

const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);

/** Every series selector of an expression: names that are not functions, keywords, grouping labels or durations. */
export function selectors(expr: string): Selector[] {
  const bare = expr
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ');
  const found: Selector[] = [];
  for (const [, name, matchers, call] of bare.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?(\s*\()?/g)) {
    if (call && !matchers) continue;
    if (KEYWORDS.has(name!.toLowerCase())) continue;
    found.push({ name: name!, matchers: matchers ?? '' });
  }
  return found;
}

export interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export function rulesOf(rule: K8sObject): Rule[] {
  return rule.spec.groups.flatMap((g: { rules: Rule[] }) => g.rules);
}

/** A Prometheus Operator relabeling (camelCase) as a Prometheus relabel_config (snake_case). */
export function relabelConfig(r: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), v]));
}

/** The regular expression of the PodMonitor's `keep` rule on __name__, anchored as Prometheus anchors it. */
export function keptNames(podMonitor: K8sObject): RegExp {
  const keep = podMonitor.spec.podMetricsEndpoints[0].metricRelabelings
    .filter((r: { action?: string; sourceLabels?: string[] }) => r.action === 'keep' && r.sourceLabels?.join() === '__name__');
  if (keep.length !== 1) throw new Error('expected one keep rule on __name__');
  return new RegExp(`^(?:${keep[0].regex})$`);
}
