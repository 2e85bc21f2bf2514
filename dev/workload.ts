// Realistic workspace lines for the benchmarks: what a student's shell, the
// workshop's state machine and the tutor write, with a seeded generator.

import { pick, seededRandom } from './random.js';

const VERBS = ['kubectl get pods', 'kubectl describe pod', 'kubectl apply -f', 'kubectl logs', 'kubectl get svc', 'ls -la', 'cat', 'vim', 'cd', 'git status', 'docker ps', 'helm install', 'curl -s', 'grep -r', 'echo'];
const ARGS = ['deployment.yaml', '-n workshop', 'web-7d9f8c6b5-x2k4q', '--all-namespaces', '/workshop/step-2', 'service.yaml', '"hello, world"', '-o wide', 'http://localhost:8080/healthz', '| head -20', 'ingress.yaml', '--tail=50', 'README.md', "'quoted \\t tab'", 'naïve-ünïcödé 🚀'];
const STEPS = ['intro', 'pods', 'deployments', 'services', 'ingress', 'configmaps', 'secrets', 'volumes', 'helm', 'wrap-up'];
export const BASE_EPOCH = 1_763_892_000;

export interface CommandLine {
  command: string;
  exit_code: number;
  timestamp: string;
}

export function commandLines(count: number, seed = 1): CommandLine[] {
  const rand = seededRandom(seed);
  const out: CommandLine[] = [];
  for (let i = 0; i < count; i++) {
    const args = Array.from({ length: Math.floor(rand() * 4) }, () => pick(rand, ARGS)).join(' ');
    out.push({
      command: `${pick(rand, VERBS)} ${args}`.trim(),
      exit_code: rand() < 0.9 ? 0 : Math.floor(rand() * 3) + 1,
      timestamp: new Date((BASE_EPOCH + i * 0.5) * 1000).toISOString(),
    });
  }
  return out;
}

export function stateEvent(rand: () => number, i: number): Record<string, unknown> {
  const step = pick(rand, STEPS);
  const type = pick(rand, ['step_started', 'step_completed', 'goss_result', 'connected', 'disconnected']);
  return { event_type: type, workshop_name: 'kubernetes-101', step_id: step, data: type === 'goss_result' ? { passed: rand() < 0.7 } : undefined, timestamp: new Date((BASE_EPOCH + i) * 1000).toISOString() };
}

/**
 * A tutor call. By default its file is `x` repeated, which costs JSON and
 * COPY work like a real prompt but compresses a hundredfold; `prose` makes the
 * file and the answer text that compresses like real ones (for bytes on disk).
 */
export function llmLine(rand: () => number, i: number, promptBytes: number, prose = false): Record<string, unknown> {
  const fileBytes = Math.max(0, promptBytes - 200);
  return {
    step_id: pick(rand, STEPS),
    student_question: 'Why is my pod stuck in CrashLoopBackOff?',
    prompt_context: { step: pick(rand, STEPS), files: { 'deployment.yaml': prose ? manifestText(rand, fileBytes) : 'x'.repeat(fileBytes) } },
    response: prose ? answerText(rand, 600 + Math.floor(rand() * 2400)) : 'Check the container logs with kubectl logs --previous; the command exits immediately.',
    model: 'tutor-large-2026-10',
    requested_at: new Date((BASE_EPOCH + i) * 1000).toISOString(),
  };
}

const KEYS = ['apiVersion', 'kind', 'metadata', 'name', 'namespace', 'labels', 'app', 'spec', 'replicas', 'selector', 'matchLabels', 'template', 'containers', 'image', 'ports', 'containerPort', 'env', 'value', 'resources', 'limits', 'cpu', 'memory', 'readinessProbe', 'httpGet', 'path', 'port', 'volumeMounts', 'mountPath', 'volumes', 'configMap', 'args', 'command'];
const WORDS = ['the', 'pod', 'container', 'is', 'a', 'to', 'of', 'and', 'in', 'your', 'image', 'because', 'deployment', 'service', 'port', 'check', 'that', 'it', 'with', 'kubectl', 'logs', 'restarts', 'probe', 'fails', 'readiness', 'liveness', 'namespace', 'label', 'selector', 'matches', 'not', 'does', 'when', 'you', 'run', 'describe', 'events', 'shows', 'memory', 'limit', 'OOMKilled', 'exit', 'code', 'environment', 'variable', 'missing', 'config', 'mount', 'volume', 'path', 'step', 'next', 'try', 'again', 'then', 'apply'];

/** YAML-shaped text of about `bytes`: repeated keys, varied values, like a manifest in a prompt. */
function manifestText(rand: () => number, bytes: number): string {
  let out = '';
  while (out.length < bytes) {
    const depth = Math.floor(rand() * 4);
    const key = pick(rand, KEYS);
    const value = rand() < 0.5 ? `${pick(rand, WORDS)}-${Math.floor(rand() * 10_000).toString(36)}` : String(Math.floor(rand() * 65_536));
    out += `${'  '.repeat(depth)}${key}: ${value}\n`;
  }
  return out.slice(0, bytes);
}

/** Sentences of about `bytes` from a small vocabulary, as a tutor answers. */
function answerText(rand: () => number, bytes: number): string {
  let out = '';
  while (out.length < bytes) {
    const words = Array.from({ length: 6 + Math.floor(rand() * 14) }, () => pick(rand, WORDS));
    out += `${words.join(' ')}. `;
  }
  return out.slice(0, bytes);
}

/** What one student action writes: a command, sometimes a state event, now and then a tutor call with a 5-50 KB prompt. */
export interface Activity {
  command: CommandLine;
  event?: Record<string, unknown>;
  llm?: Record<string, unknown>;
}

/** One action of a workspace; `counts` numbers its events and tutor calls. Timestamps are now. */
export function nextActivity(rand: () => number, counts: { events: number; llm: number }): Activity {
  const stamp = new Date().toISOString();
  const [line] = commandLines(1, Math.floor(rand() * 1e9));
  const activity: Activity = { command: { ...line!, timestamp: stamp } };
  if (rand() < 0.2) activity.event = { ...stateEvent(rand, counts.events++), timestamp: stamp };
  if (rand() < 0.03) activity.llm = { ...llmLine(rand, counts.llm++, 5_000 + Math.floor(rand() * 45_000)), requested_at: stamp };
  return activity;
}

export function toNdjson(lines: readonly object[]): string {
  return lines.map((l) => JSON.stringify(l)).join('\n') + '\n';
}
