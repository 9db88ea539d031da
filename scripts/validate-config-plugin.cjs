'use strict';
/**
 * Serverless plugin: checks the guard's configuration (the params mapped to each function's
 * environment) before anything is packaged or deployed, with the same code the functions run at
 * cold start (lib/config.ts, bundled on the fly by esbuild).
 */
const requireTs = require('./require-ts.cjs');

class ValidateGuardConfig {
  constructor(serverless) {
    this.serverless = serverless;
    const check = () => this.check();
    this.hooks = {
      'before:package:initialize': check,
      'before:deploy:function:initialize': check,
    };
  }

  check() {
    const { loadConfig, ConfigError } = requireTs('lib/config.ts');
    const service = this.serverless.service;
    const base = service.provider.environment || {};
    for (const name of service.getAllFunctions()) {
      const merged = { ...base, ...(service.getFunction(name).environment || {}) };
      // Values CloudFormation resolves at deploy time (Ref, GetAtt) cannot be checked here.
      const environment = Object.fromEntries(Object.entries(merged).filter(([, value]) => typeof value === 'string'));
      environment.AWS_REGION = this.serverless.getProvider('aws').getRegion();
      try {
        loadConfig(environment);
      } catch (error) {
        if (error instanceof ConfigError) throw new this.serverless.classes.Error(`${error.message} (function ${name})`);
        throw error;
      }
    }
  }
}

module.exports = ValidateGuardConfig;
