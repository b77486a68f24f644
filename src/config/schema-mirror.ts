// Config keys of repository mirroring (docs/MIRRORING.md), with Quay's names and defaults.
import { z } from 'zod';

export const mirrorConfigSchema = {
  /** Quay: repository mirroring (the changestate/mirror API, the sync worker). Off by default, as in Quay. */
  FEATURE_REPO_MIRROR: z.boolean().default(false),
  /** Quay: seconds between looks for mirrors that are due (each replica looks; one syncs a repository at a time). */
  REPO_MIRROR_INTERVAL: z.number().min(0.05).max(86_400).default(30),
  /** Quay: the default of a new mirror's external_registry_config.verify_tls (HTTPS with a verified certificate). */
  REPO_MIRROR_TLS_VERIFY: z.boolean().default(true),
  /** Berth: seconds a replica's claim on a syncing repository lasts unless renewed (renewed every third of it). */
  REPO_MIRROR_LEASE_SECONDS: z.number().min(1).max(3600).default(60),
};
