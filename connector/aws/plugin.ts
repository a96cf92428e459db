import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { AwsGateway } from './gateway.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** EC2 and IAM, as the connector's own AWS identity. */
    aws: AwsGateway;
  }
}

export const awsPlugin = fp(
  async (app: FastifyInstance, opts: { aws: AwsGateway }) => {
    app.decorate('aws', opts.aws);
    app.addHook('onClose', async () => opts.aws.close());
  },
  { name: 'aws' },
);
