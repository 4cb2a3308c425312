import type { Command } from './command.ts';

/**
 * Every subcommand, loaded lazily so `edgeweave broker` never pays for tfjs.
 * Add a command: one file in cli/commands/ exporting `command`, one line here.
 */
export const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  auth: { summary: 'manage the broker\'s users file: add-user, remove-user, list', load: async () => (await import('./commands/auth.ts')).command },
  broker: { summary: 'run the embedded MQTT broker (TCP + WebSocket, $share groups, auth)', load: async () => (await import('./commands/broker.ts')).command },
  info: { summary: 'show the inference engine in use, why faster ones were not taken, and the host', load: async () => (await import('./commands/info.ts')).command },
  models: { summary: 'list, inspect, export and verify models (zoo or model.json)', load: async () => (await import('./commands/models.ts')).command },
  profile: { summary: 'measure per-task latency of a model on this machine and write a DeviceProfile', load: async () => (await import('./commands/profile.ts')).command },
  dashboard: { summary: 'serve the live dashboard (a web page that observes the broker over WebSocket)', load: async () => (await import('./commands/dashboard.ts')).command },
  demo: { summary: 'the main job: broker, planner and three emulated devices, strategies compared', load: async () => (await import('./commands/demo.ts')).command },
  experiment: { summary: 'run a declared sweep or trajectory experiment; CSV, JSON and an HTML report', load: async () => (await import('./commands/experiment.ts')).command },
  node: { summary: 'run a device (IoT, edge or cloud): executes its share of jobs', load: async () => (await import('./commands/node.ts')).command },
  planner: { summary: 'run the planner service: plans submitted jobs over the live devices', load: async () => (await import('./commands/planner.ts')).command },
  run: { summary: 'submit an inference job from a device; print result, timeline and energy', load: async () => (await import('./commands/run.ts')).command },
  plan: { summary: 'plan a model over a devices file offline; compare every algorithm', load: async () => (await import('./commands/plan.ts')).command },
};
