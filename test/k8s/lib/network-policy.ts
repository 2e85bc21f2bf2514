// What a set of rendered NetworkPolicies lets through, by the rules of the
// Kubernetes API: a pod selected by a policy of a direction is isolated in
// that direction and takes only what some rule of those policies allows;
// a pod no policy selects is open. Peers are pods (with their namespace's
// labels) or IPv4 addresses; ports are numbers or the names pods give them.

import type { K8sObject } from './render.js';

export interface Pod {
  namespace: string;
  /** Besides kubernetes.io/metadata.name, which the API server sets on every namespace. */
  namespaceLabels?: Record<string, string>;
  labels: Record<string, string>;
}

export type Peer = Pod | { ip: string };

export interface Port {
  port: number | string;
  protocol?: 'TCP' | 'UDP';
}

interface Selector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }>;
}

export function selects(selector: Selector, labels: Record<string, string>): boolean {
  const byLabels = Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  return byLabels && (selector.matchExpressions ?? []).every(({ key, operator, values = [] }) => {
    switch (operator) {
      case 'In': return key in labels && values.includes(labels[key]!);
      case 'NotIn': return !(key in labels) || !values.includes(labels[key]!);
      case 'Exists': return key in labels;
      case 'DoesNotExist': return !(key in labels);
    }
  });
}

function namespaceLabels(pod: Pod): Record<string, string> {
  return { ...pod.namespaceLabels, 'kubernetes.io/metadata.name': pod.namespace };
}

function ipv4(address: string): number {
  return address.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

function inCidr(ip: string, cidr: string): boolean {
  const [base, bits] = cidr.split('/');
  const size = 2 ** (32 - Number(bits));
  return Math.floor(ipv4(ip) / size) === Math.floor(ipv4(base!) / size);
}

/** Whether a rule's peer entry (from or to) matches, for a policy living in `home`. */
function peerMatches(entry: Record<string, any>, peer: Peer, home: string): boolean {
  if ('ip' in peer) {
    const block = entry.ipBlock;
    return !!block && inCidr(peer.ip, block.cidr) && !(block.except ?? []).some((c: string) => inCidr(peer.ip, c));
  }
  if (entry.ipBlock) return false;
  const inNamespace = entry.namespaceSelector ? selects(entry.namespaceSelector, namespaceLabels(peer)) : peer.namespace === home;
  return inNamespace && selects(entry.podSelector ?? {}, peer.labels);
}

function portMatches(ports: Array<Record<string, any>> | undefined, wanted: Port): boolean {
  return ports === undefined || ports.some((p) => (p.port === undefined || p.port === wanted.port) && (p.protocol ?? 'TCP') === (wanted.protocol ?? 'TCP'));
}

function allowedBy(policies: K8sObject[], direction: 'Ingress' | 'Egress', subject: Pod, peer: Peer, port: Port): boolean {
  const applying = policies.filter((p) => (p.metadata.namespace ?? subject.namespace) === subject.namespace
    && selects(p.spec.podSelector, subject.labels) && (p.spec.policyTypes ?? ['Ingress']).includes(direction));
  if (applying.length === 0) return true;
  const [rules, peers] = direction === 'Ingress' ? ['ingress', 'from'] : ['egress', 'to'];
  return applying.some((p) => (p.spec[rules] ?? []).some((rule: Record<string, any>) =>
    (rule[peers] === undefined || rule[peers].some((entry: Record<string, any>) => peerMatches(entry, peer, subject.namespace)))
    && portMatches(rule.ports, port)));
}

/** Whether `from` may open a connection to `to` on `port`: the egress of the one and the ingress of the other. */
export function connects(policies: K8sObject[], from: Pod, to: Peer, port: Port | number | string): boolean {
  const p = typeof port === 'object' ? port : { port };
  const out = allowedBy(policies.filter((o) => o.kind === 'NetworkPolicy'), 'Egress', from, to, p);
  const into = 'ip' in to || allowedBy(policies.filter((o) => o.kind === 'NetworkPolicy'), 'Ingress', to, from, p);
  return out && into;
}
