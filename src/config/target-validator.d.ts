/** The standalone validator generated from schema.ts at build time (scripts/gen-validator.ts). */
import type { ValidateFunction } from 'ajv';
import type { TargetSpec } from './schema';

declare const validate: ValidateFunction<TargetSpec>;
export default validate;
