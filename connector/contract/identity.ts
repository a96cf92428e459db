import { z } from 'zod';

export const Me = z.object({
  userName: z.string(),
  isAdministrator: z.boolean(),
});
export type Me = z.infer<typeof Me>;
