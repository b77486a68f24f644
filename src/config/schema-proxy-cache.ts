// Config key of the pull-through cache (docs/PROXY-CACHE.md).
import { z } from 'zod';

export const proxyCacheConfigSchema = {
  /** Quay: organizations may be configured as a pull-through cache of an upstream registry. Default false, as in Quay. */
  FEATURE_PROXY_CACHE: z.boolean().default(false),
};
