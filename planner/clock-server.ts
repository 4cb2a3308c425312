/**
 * The reference clock of the fleet: a planner answers every clock ping with its receive and
 * send times, from which devices and job clients estimate their offset (node-runtime/clock.ts).
 */
import type { Received } from '../transport/mqtt-transport.ts';
import { ClockPong } from '../schemas/generated/edgeweave.ts';
import { topics } from '../schemas/topics.ts';
import type { Publish } from './options.ts';

export class ClockServer {
  constructor(private readonly plannerId: string, private readonly publish: Publish) {}

  onPing({ message: ping, topic }: Received<'clockPing'>): void {
    const t1 = Date.now();
    const pong = ClockPong.encode({ deviceId: topic.deviceId, seq: ping.seq, t0Ms: ping.t0Ms, t1Ms: t1, t2Ms: Date.now(), plannerId: this.plannerId });
    void this.publish(topics.clockPong(topic.deviceId), pong, { qos: 0 }).catch(() => undefined);
  }
}
