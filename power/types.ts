/**
 * A device's power figures: its role, radio and the watts it draws idle and busy, as plain
 * data. Shared by the planner's cost model (predicted energy) and the device runtime
 * (measured energy), so both bill a job the same way.
 */

export type DeviceRole = 'iot' | 'edge' | 'cloud';

/** Radio technology of a device's link to the broker; `wired` draws no modelled radio power. */
export type RadioKind = 'wifi' | 'lte' | '3g' | 'wired';

export type PowerPresetName = 'raspberry-pi-4' | 'jetson-nano-5w' | 'jetson-nano-10w' | 'edge-server' | 'cloud-vm';

/**
 * Radio power while moving data, after Huang et al. (MobiSys 2012):
 * power_mW = alpha_mW_per_Mbps x throughput_Mbps + beta_mW, uplink and downlink separately.
 * Field names follow the wire's PowerProfile.
 */
export interface RadioPowerModel {
  upAlphaMwPerMbps: number;
  downAlphaMwPerMbps: number;
  betaMw: number;
}

/** Power figures by preset name, or a preset (default: by role) with any figure overridden. */
export type PowerSpec = PowerPresetName | PowerOverrides;

export interface PowerOverrides {
  preset?: PowerPresetName;
  idleW?: number;
  busyW?: number;
  radioModel?: Partial<RadioPowerModel>;
}

/** A device's power figures once presets are applied. */
export interface DevicePower {
  preset: PowerPresetName | null;
  idleW: number;
  busyW: number;
  radio: RadioKind;
  radioModel: RadioPowerModel;
}
