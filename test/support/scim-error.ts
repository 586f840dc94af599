import { ScimError } from '../../src/scim/errors';

/** Runs fn and returns the ScimError it throws; any other outcome fails the test. */
export function expectScimErrorFrom(fn: () => unknown): ScimError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ScimError) return e;
    throw e;
  }
  throw new Error('expected a ScimError');
}
