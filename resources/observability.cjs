'use strict';
/**
 * How users read the guard in CloudWatch: dashboard, saved Logs Insights queries, alarms and their SNS
 * topic (and an email subscription when the alarmEmail param is set). Built at package time by
 * lib/observability.ts — bundled on the fly by esbuild, as scripts/validate-config-plugin.cjs does — so
 * metric names, dimensions and finding fields come from the code the functions run, not a copy.
 */
const requireTs = require('../scripts/require-ts.cjs');

module.exports = async ({ resolveVariable }) => {
  const { observabilityResources, ParamError } = requireTs('lib/observability.ts');
  const [service, stage, serviceName, alarmEmail, exposureAlarmSeconds, settleSeconds, reencryptObjects, organization, functions] = await Promise.all([
    resolveVariable('self:service'),
    resolveVariable('sls:stage'),
    // The metrics' `service` dimension is what the functions get as POWERTOOLS_SERVICE_NAME.
    resolveVariable('self:provider.environment.POWERTOOLS_SERVICE_NAME'),
    resolveVariable('param:alarmEmail'),
    resolveVariable('param:exposureAlarmSeconds'),
    resolveVariable('param:settleSeconds'),
    resolveVariable('param:reencryptObjects'),
    resolveVariable('param:organization'),
    // The functions serverless.yml declares (a left-out one is null): the hub's sweepWorker is read and
    // alarmed only where it is declared.
    resolveVariable('self:functions'),
  ]);
  // An invalid value is reported by the config check (scripts/validate-config-plugin.cjs) with its message.
  const hub = String(organization).trim() === 'hub';
  try {
    return observabilityResources({
      service: String(service), stage: String(stage), serviceName: String(serviceName), alarmEmail: String(alarmEmail ?? ''),
      exposureAlarmSeconds: String(exposureAlarmSeconds), settleSeconds: String(settleSeconds),
      deployment: {
        reencrypt: ['report', 'enforce'].includes(String(reencryptObjects).trim()),
        organization: hub,
        sweepWorker: hub && Boolean(functions?.sweepWorker),
      },
    });
  } catch (error) {
    // serverless prints the stack of what a resolver throws; a wrong param needs only its message.
    if (error instanceof ParamError) error.stack = error.message;
    throw error;
  }
};
