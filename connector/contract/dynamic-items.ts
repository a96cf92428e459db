import { z } from 'zod';
import { singleLine } from './text.ts';

/** What the vSphere Client POSTs to a manifest `dynamicUri` (remote plugin SPI, 7.0U1+). */
export const DynamicItemsRequest = z.object({
  apiVersion: singleLine(32).optional(),
  objectIds: z.array(z.string().max(256)).min(1).max(100),
  locale: singleLine(16).optional(),
});

export const DynamicItem = z.object({
  id: z.string(),
  /** 8.0U3 semantics: false shows the action disabled. */
  visible: z.boolean(),
  /** false removes the action from the menu. */
  relevant: z.boolean().optional(),
});

export const DynamicItemsResponse = z.object({
  apiVersion: z.string(),
  dynamicItems: z.array(DynamicItem),
});
export type DynamicItemsResponse = z.infer<typeof DynamicItemsResponse>;
