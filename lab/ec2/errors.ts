import { AwsServiceError } from '../aws-http.ts';

/** An error answered in the Query protocol's error envelope (EC2, IAM, STS). */
export class Ec2Error extends AwsServiceError {}
