/**
 * The guard's stack on the local emulator, for the doctor (demo, tests): `serverless package` as a user
 * runs it, then the packaged template created through the emulator's CloudFormation, with the functions'
 * zips in a deployment bucket. Moto's CloudFormation cannot create every resource type of the stack;
 * those (alarms, dashboard, saved queries, policies, the sweep's failure destination) are left out and
 * listed, and everything the doctor reads — rule, queues, event source mapping, functions — is created
 * from the very template AWS would get.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CloudFormationClient, CreateStackCommand, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { stackName } from '../lib/doctor/stack';

export const SERVICE_DIR = resolve(__dirname, '..');

/** Resource types moto 5.2's CloudFormation does not create (it rejects templates that reference them). */
export const NOT_ON_EMULATOR = new Set([
  'AWS::CloudWatch::Alarm', 'AWS::CloudWatch::Dashboard', 'AWS::Logs::QueryDefinition', 'AWS::Lambda::EventInvokeConfig',
  'AWS::S3::BucketPolicy', 'AWS::SQS::QueuePolicy', 'AWS::CloudTrail::Trail', 'AWS::SNS::Subscription',
]);

interface Template {
  Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
  Outputs?: Record<string, unknown>;
}

export interface EmulatorStackOptions {
  endpoint: string;
  region: string;
  stage: string;
  params?: Record<string, string>;
  /** Where to run `serverless package` (a copy of the service, in tests); default: this repository. */
  serviceDir?: string;
}

/** `npx serverless package` into a temporary folder, without AWS credentials (packaging needs none). */
const packageStack = (dir: string, out: string, options: EmulatorStackOptions): Promise<void> => new Promise((resolvePromise, reject) => {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(AWS_|POWERTOOLS_)/.test(name)));
  const args = ['--no', 'serverless', 'package', '--stage', options.stage, '--region', options.region, '--package', out,
    ...Object.entries(options.params ?? {}).map(([name, value]) => `--param=${name}=${value}`)];
  const child = spawn('npx', args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  child.once('error', reject);
  child.once('close', (status) => (status === 0 ? resolvePromise() : reject(new Error(`serverless package exited ${status}:\n${output}`))));
});

/** The template without what the emulator cannot create, and without outputs that name it. */
export const forEmulator = (template: Template): { template: Template; left: string[] } => {
  const left = Object.entries(template.Resources).filter(([, resource]) => NOT_ON_EMULATOR.has(resource.Type)).map(([id]) => id);
  const names = (value: unknown): boolean => left.some((id) => JSON.stringify(value).includes(`"${id}"`) || JSON.stringify(value).includes(`\${${id}`));
  return {
    left,
    template: {
      ...template,
      Resources: Object.fromEntries(Object.entries(template.Resources).filter(([id]) => !left.includes(id))),
      Outputs: Object.fromEntries(Object.entries(template.Outputs ?? {}).filter(([, output]) => !names(output))),
    },
  };
};

export interface EmulatorStack {
  stackName: string;
  /** Logical ids of the resources left out (the emulator cannot create them). */
  left: string[];
}

export const deployToEmulator = async (options: EmulatorStackOptions): Promise<EmulatorStack> => {
  const out = mkdtempSync(join(tmpdir(), 's3-encryption-guard-package-'));
  try {
    await packageStack(options.serviceDir ?? SERVICE_DIR, out, options);
    const packaged = JSON.parse(readFileSync(join(out, 'cloudformation-template-update-stack.json'), 'utf8')) as Template;
    const name = stackName(options.stage);
    const clientOptions = { region: options.region, endpoint: options.endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
    const s3 = new S3Client({ ...clientOptions, forcePathStyle: true });
    const cloudformation = new CloudFormationClient(clientOptions);
    try {
      // The functions' code, where CloudFormation will look for it.
      const deploymentBucket = `${name}-deployment-${Date.now().toString(36)}`.toLowerCase();
      await s3.send(new CreateBucketCommand({ Bucket: deploymentBucket, ...(options.region === 'us-east-1' ? {} : { CreateBucketConfiguration: { LocationConstraint: options.region as 'eu-west-1' } }) }));
      for (const resource of Object.values(packaged.Resources).filter((candidate) => candidate.Type === 'AWS::Lambda::Function')) {
        const code = resource.Properties?.Code as { S3Key: string; S3Bucket: unknown };
        await s3.send(new PutObjectCommand({ Bucket: deploymentBucket, Key: code.S3Key, Body: readFileSync(join(out, code.S3Key.split('/').pop()!)) }));
        code.S3Bucket = deploymentBucket;
      }
      const { template, left } = forEmulator(packaged);
      await cloudformation.send(new CreateStackCommand({ StackName: name, TemplateBody: JSON.stringify(template), Capabilities: ['CAPABILITY_IAM', 'CAPABILITY_NAMED_IAM'] }));
      for (let attempt = 0; ; attempt++) {
        const { Stacks = [] } = await cloudformation.send(new DescribeStacksCommand({ StackName: name }));
        const status = Stacks[0]?.StackStatus ?? '';
        if (status === 'CREATE_COMPLETE') return { stackName: name, left };
        if (!status.endsWith('IN_PROGRESS') || attempt > 60) throw new Error(`stack ${name} on the emulator: ${status} ${Stacks[0]?.StackStatusReason ?? ''}`);
        await new Promise((wait) => setTimeout(wait, 500));
      }
    } finally {
      s3.destroy();
      cloudformation.destroy();
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
};
