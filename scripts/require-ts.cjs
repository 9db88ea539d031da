'use strict';
/**
 * Loads one of the guard's TypeScript modules from serverless.yml-time code (plugins, variable
 * resolvers), bundled on the fly by esbuild, so deploy-time checks and template sections run the very
 * code the functions run, not a copy.
 */
const path = require('node:path');
const Module = require('node:module');
const esbuild = require('esbuild');

module.exports = (relativePath) => {
  const entry = path.join(__dirname, '..', relativePath);
  const { outputFiles } = esbuild.buildSync({ entryPoints: [entry], bundle: true, platform: 'node', format: 'cjs', write: false });
  const mod = new Module(entry);
  mod.filename = entry;
  mod._compile(outputFiles[0].text, entry);
  return mod.exports;
};
