// Config keys that decide which OCI artifacts the registry accepts (Quay's names).
import { z } from 'zod';

const mediaType = z
  .string()
  .min(1)
  .max(255)
  .regex(
    /^[A-Za-z0-9][\w.+\-/]*(;[\w.+\-=]+)*$|^\*$/,
    'must be a media type such as application/vnd.example.layer.v1+tar (or * for any layer)',
  );

export const artifactsConfigSchema = {
  /** Quay: accept OCI artifacts other than images (signatures, SBOMs, policy bundles, OCI 1.1 artifacts). */
  FEATURE_GENERAL_OCI_SUPPORT: z.boolean().default(true),
  /** Quay: accept Helm charts. */
  FEATURE_HELM_OCI_SUPPORT: z.boolean().default(true),
  /**
   * Quay: config media type (or OCI 1.1 artifactType) -> the layer media types allowed with it. Merged over Berth's
   * defaults: an entry replaces the default of the same key, null removes it.
   */
  ALLOWED_OCI_ARTIFACT_TYPES: z.record(z.string().min(1).max(255), z.array(mediaType).nullable()).optional(),
};
