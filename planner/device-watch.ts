/**
 * The fleet as a planner follows it: device statuses and profiles (checked, then kept in the
 * DeviceRegistry), devices that miss their heartbeats, and devices that say OFFLINE — given a
 * short grace to come back as the same incarnation before their work is taken to be lost.
 * Tells the job manager when a device is lost or one comes (back) online.
 */
import type { Logger } from 'pino';
import type { Received } from '../transport/mqtt-transport.ts';
import type { DeviceRegistry } from './device-registry.ts';
import { statusProblem, profileProblem } from './validate-status.ts';
import { DeviceState } from '../schemas/generated/edgeweave.ts';
import { EdgeweaveError, toEdgeweaveError } from '../schemas/errors.ts';

export interface DeviceEvents {
  /** The device's work is gone (`why`: 'went offline', 'restarted', 'missed its heartbeats'). */
  lost(deviceId: string, why: string): void;
  /** A device came (back) online. */
  back(): void;
}

export class DeviceWatch {
  constructor(
    private readonly registry: DeviceRegistry,
    private readonly lostGraceMs: number,
    private readonly events: DeviceEvents,
    private readonly isStopped: () => boolean,
    private readonly log: Logger,
  ) {}

  onStatus({ message: status, topic }: Received<'deviceStatus'>): void {
    try {
      if (status.deviceId !== topic.deviceId) throw new EdgeweaveError('E_TOPIC', `status for ${JSON.stringify(status.deviceId)} on the topic of ${topic.deviceId}`);
      const problem = statusProblem(status);
      if (problem) throw new EdgeweaveError('E_DECODE', `device status of ${topic.deviceId} refused: ${problem}`);
      const change = this.registry.updateStatus(status, Date.now());
      if (change !== 'unchanged') this.log.info({ deviceId: status.deviceId, change }, 'device status');
      if (change === 'offline' || status.state === DeviceState.DEVICE_STATE_OFFLINE) this.offline(status.deviceId, status.incarnation);
      else if (change === 'restarted') {
        // A new incarnation lost whatever the old one held: its jobs run elsewhere (or on it, anew).
        this.events.lost(status.deviceId, 'restarted');
        this.events.back();
      } else if (change === 'online') this.events.back();
    } catch (err) {
      this.log.warn({ err: toEdgeweaveError(err, 'E_DECODE'), deviceId: topic.deviceId }, 'device status refused');
    }
  }

  onProfile({ message: profile, topic }: Received<'deviceProfile'>): void {
    try {
      if (profile.deviceId !== topic.deviceId) throw new EdgeweaveError('E_TOPIC', `profile for ${JSON.stringify(profile.deviceId)} on the topic of ${topic.deviceId}`);
      const problem = profileProblem(profile);
      if (problem) throw new EdgeweaveError('E_DECODE', `device profile of ${topic.deviceId} refused: ${problem}`);
      this.registry.updateProfile(profile);
    } catch (err) {
      this.log.warn({ err: toEdgeweaveError(err, 'E_DECODE'), deviceId: topic.deviceId }, 'device profile refused');
    }
  }

  /** Devices that missed their heartbeats are presumed offline (called every second). */
  expire(): void {
    for (const id of this.registry.expire(Date.now())) {
      this.log.warn({ deviceId: id }, 'device missed its heartbeats; presumed offline');
      this.events.lost(id, 'missed its heartbeats');
    }
  }

  /**
   * A device said OFFLINE (its last will, or a clean stop). Its jobs are planned anew unless it is
   * back, as the same incarnation, within a short grace: a broker restart or a link that drops
   * for a moment publishes the will too, and such a device still holds its work (its executors'
   * sessions keep their queued inputs). A device that died comes back, if at all, as a new one.
   */
  private offline(deviceId: string, incarnation: string): void {
    const check = (): void => {
      if (this.isStopped()) return;
      const rec = this.registry.get(deviceId);
      if (rec && this.registry.isAlive(rec, Date.now()) && rec.status.incarnation === incarnation) return;
      this.events.lost(deviceId, 'went offline');
    };
    if (this.lostGraceMs <= 0) check();
    else setTimeout(check, this.lostGraceMs).unref();
  }
}
