import { z } from 'zod';

/** One line of text: no control characters (they have no place in names and break logs and the UI). */
export const singleLine = (max: number) =>
  z
    .string()
    .max(max)
    .regex(/^[^\p{Cc}]*$/u, 'must not contain control characters');

/** Free text: line breaks and tabs allowed, other control characters not. */
export const multiLine = (max: number) =>
  z
    .string()
    .max(max)
    .regex(/^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]*$/, 'must not contain control characters');
