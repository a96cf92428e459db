// How the routes' zod schemas become the published OpenAPI document (GET /api/v1/openapi.json and the docs page):
// fastify-type-provider-zod does the conversion; these wrappers fix what it leaves for an external linter.
import type { SwaggerTransform, SwaggerTransformObject } from '@fastify/swagger';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { API_PREFIX } from './contract/index.ts';

/**
 * The API's server, relative to the document's own URL. The document is served at /vm2ec2/api/v1/openapi.json and
 * /vm2ec2/api/docs/json, directly by the connector or through the vSphere Client's plugin proxy
 * (/plugins/<id>/<host>-<port>/vm2ec2/...); `../v1` resolves to the API from all of them, where an absolute path
 * (/vm2ec2/api/v1) would miss the proxy's prefix.
 */
export const API_SERVER_URL = `../${API_PREFIX.split('/').pop()!}`;

const COMPONENT_REF = '#/components/schemas/';
/** The suffix fastify-type-provider-zod gives the request-side (z.input) copy of every schema with an id. */
const INPUT_SUFFIX = 'Input';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };
const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Per route: paths relative to {@link API_SERVER_URL}, and the response headers a route declares (zod schemas under
 * `response[status].headers`, which the zod transform drops) documented on that response.
 */
export const openApiRouteTransform: SwaggerTransform = (input) => {
  const { schema, url } = jsonSchemaTransform(input as Parameters<typeof jsonSchemaTransform>[0]);
  const relative = url.startsWith(`${API_PREFIX}/`) ? url.slice(API_PREFIX.length) : url;
  const declared = (input.schema as { response?: Record<string, unknown> }).response;
  const documented = (schema as { response?: Record<string, Record<string, unknown>> }).response;
  for (const [status, response] of Object.entries(declared ?? {})) {
    const headers = isObject(response) ? (response as { headers?: Record<string, z.ZodType> }).headers : undefined;
    if (!headers || !documented?.[status]) continue;
    documented[status].headers = Object.fromEntries(
      Object.entries(headers).map(([name, header]) => {
        const { $schema: _drop, ...json } = z.toJSONSchema(header, { io: 'output' });
        return [name, json];
      }),
    );
  }
  return { schema, url: relative };
};

/**
 * The zod transform emits two components per schema id, `X` (response side) and `XInput` (request side), whichever
 * side the routes use. Publish one definition per type: only the side the document references, under the plain name,
 * and one component when both sides read the same. A schema with an id that no route references on either side
 * stays, so the linter still reports it.
 */
export const openApiObjectTransform: SwaggerTransformObject = (documentObject) => {
  const doc = jsonSchemaTransformObject(documentObject) as unknown as JsonObject;
  const components = isObject(doc.components) ? doc.components : {};
  const schemas = isObject(components.schemas) ? components.schemas : {};

  const referenced = new Set<string>();
  const pending: Json[] = Object.entries(doc).filter(([key]) => key !== 'components').map(([, value]) => value);
  while (pending.length > 0) {
    const node = pending.pop()!;
    if (Array.isArray(node)) pending.push(...node);
    else if (isObject(node)) {
      for (const [key, value] of Object.entries(node)) {
        if (key === '$ref' && typeof value === 'string' && value.startsWith(COMPONENT_REF)) {
          const name = value.slice(COMPONENT_REF.length);
          if (!referenced.has(name) && schemas[name] !== undefined) {
            referenced.add(name);
            pending.push(schemas[name]);
          }
        } else pending.push(value);
      }
    }
  }

  const plainOf = (name: string) => (name.endsWith(INPUT_SUFFIX) ? name.slice(0, -INPUT_SUFFIX.length) : undefined);
  const twinOf = (name: string) => {
    const plain = plainOf(name);
    return plain !== undefined && schemas[plain] !== undefined ? plain : `${name}${INPUT_SUFFIX}`;
  };
  const kept = Object.keys(schemas).filter((name) => referenced.has(name) || !referenced.has(twinOf(name)));
  /** Component name → the name it is published under. */
  const renamed = new Map<string, string>();
  for (const name of kept) {
    const plain = plainOf(name);
    if (plain && schemas[plain] !== undefined && !kept.includes(plain)) renamed.set(name, plain);
  }
  const rewrite = (node: Json): Json => {
    if (Array.isArray(node)) return node.map(rewrite);
    if (!isObject(node)) return node;
    return Object.fromEntries(
      Object.entries(node).map(([key, value]) => {
        if (key === '$ref' && typeof value === 'string' && value.startsWith(COMPONENT_REF)) {
          const name = value.slice(COMPONENT_REF.length);
          return [key, `${COMPONENT_REF}${renamed.get(name) ?? name}`];
        }
        return [key, rewrite(value)];
      }),
    );
  };
  // A schema used on both sides that reads the same on both: one component (repeat, as merging one can make another equal).
  for (let merged = true; merged; ) {
    merged = false;
    for (const name of kept) {
      const plain = plainOf(name);
      if (!plain || renamed.has(name) || !kept.includes(plain)) continue;
      if (JSON.stringify(rewrite(schemas[name]!)) === JSON.stringify(rewrite(schemas[plain]!))) {
        renamed.set(name, plain);
        merged = true;
      }
    }
  }
  const published = kept.filter((name) => !kept.includes(renamed.get(name) ?? ''));
  const keptSchemas = Object.fromEntries(published.map((name) => [renamed.get(name) ?? name, schemas[name]!]));
  return rewrite({ ...doc, components: { ...components, schemas: keptSchemas } }) as ReturnType<SwaggerTransformObject>;
};
