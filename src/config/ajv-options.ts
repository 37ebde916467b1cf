/** The ajv options the target validator is built with (scripts/gen-validator.ts). */
export const AJV_OPTIONS = { allErrors: true, useDefaults: true, allowUnionTypes: true, strict: true } as const;
