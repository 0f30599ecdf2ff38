import type { components } from '../../../generated/openapi.d.ts';
import type { FleetPackageRow, HardwareRow, PackageRow, ServiceRow, UpdateRow } from './inventory.repository.ts';

type Schemas = components['schemas'];

/** Architecture is stored as '' when the agent did not say. */
const architecture = (stored: string): string | null => (stored === '' ? null : stored);

export const toPackage = (row: PackageRow): Schemas['Package'] => ({
  name: row.name,
  version: row.version,
  available_version: row.available_version,
  architecture: architecture(row.architecture),
});

export const toSystemService = (row: ServiceRow): Schemas['SystemService'] => ({ name: row.name, state: row.state, enabled: row.enabled });

export const toHardware = (row: HardwareRow): Schemas['Hardware'] => ({
  agent_id: row.agent_id,
  cpu_model: row.cpu_model,
  cpu_cores: row.cpu_cores,
  memory_bytes: Number(row.memory_bytes),
  disk_bytes: Number(row.disk_bytes),
  architecture: row.architecture,
  virtualization: row.virtualization,
  manufacturer: row.manufacturer,
  model: row.model,
  reported_at: row.reported_at.toISOString(),
});

export const toFleetPackage = (row: FleetPackageRow): Schemas['FleetPackage'] => ({
  agent_id: row.agent_id,
  hostname: row.hostname,
  team_id: row.team_id,
  name: row.name,
  version: row.version,
  available_version: row.available_version,
  architecture: architecture(row.architecture),
});

export const toPackageUpdate = (row: UpdateRow): Schemas['PackageUpdate'] => ({
  name: row.name,
  version: row.version,
  available_version: row.available_version,
  agents: row.agents,
});
