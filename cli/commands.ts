import type { Command } from './command.ts';

/**
 * Every subcommand, loaded lazily so `edgeweave broker` never pays for tfjs.
 * Add a command: one file in cli/commands/ exporting `command`, one line here.
 */
export const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  broker: { summary: 'run the embedded MQTT broker (TCP + WebSocket, $share groups, auth)', load: async () => (await import('./commands/broker.ts')).command },
  info: { summary: 'show the inference engine in use, why faster ones were not taken, and the host', load: async () => (await import('./commands/info.ts')).command },
  models: { summary: 'list, inspect, export and verify models (zoo or model.json)', load: async () => (await import('./commands/models.ts')).command },
  profile: { summary: 'measure per-task latency of a model on this machine and write a DeviceProfile', load: async () => (await import('./commands/profile.ts')).command },
  plan: { summary: 'plan a model over a devices file offline; compare every algorithm', load: async () => (await import('./commands/plan.ts')).command },
};
