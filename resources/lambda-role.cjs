'use strict';
/**
 * A function's own role, as the guard gives every function that does not run as serverless's role: at the
 * guard's IAM path (lib/organization/names.ts, so the rules leave out its calls), assumable by Lambda,
 * writing its own log group, and granted `statements`.
 */
const requireTs = require('../scripts/require-ts.cjs');

let guardRolePath;

module.exports = ({ functionName, policyName, statements }) => {
  guardRolePath ??= requireTs('lib/organization/names.ts').GUARD_ROLE_PATH;
  return {
    Type: 'AWS::IAM::Role',
    Properties: {
      Path: guardRolePath,
      AssumeRolePolicyDocument: {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
      },
      Policies: [{
        PolicyName: policyName,
        PolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: { 'Fn::Sub': `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:/aws/lambda/${functionName}:*` } },
            ...statements,
          ],
        },
      }],
    },
  };
};
