import fc from 'fast-check';
import { ENTERPRISE_USER } from '../../src/core/schema';
import { ScimError } from '../../src/scim/errors';
import { normalizeGroup, normalizeUser } from '../../src/scim/normalize';
import { applyUserPatch, planGroupPatch } from '../../src/scim/patch';

const ENT = ENTERPRISE_USER;

const paths = [
  'userName', 'USERNAME', 'active', 'displayName', 'title', 'nickName', 'externalId', 'id', 'meta', 'groups', 'password',
  'name', 'name.givenName', 'name.FamilyName', 'name.nope', 'emails', 'emails.value', 'emails.primary',
  'emails[type eq "work"]', 'emails[type eq "work"].value', 'emails[type eq "home"].primary', 'emails[value co "x"].type',
  'emails[type eq "work" and primary eq true].display', 'emails[not (type eq "work")]', 'addresses[type eq "work"].formatted',
  'phoneNumbers[type eq "mobile"].value', 'roles', 'manager', `${ENT}:manager`, `${ENT}:manager.value`, `${ENT}:department`,
  `${ENT.toUpperCase()}:EMPLOYEENUMBER`, 'urn:ietf:params:scim:schemas:core:2.0:User:displayName', 'urn:acme:x:1.0:badge',
  'members', 'members[value eq "u1"]', 'members[value eq "u1" or value eq "u2"]',
  'emails[', 'emails]', 'emails[type eq]', '', 'a.b.c', '__proto__',
];

const scalar = fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('True', 'False', 'true', '', 'work', 'home', 'u1', 'g-1', 'Group'), fc.boolean(), fc.integer(), fc.constant(null));
const keys = fc.oneof(
  fc.constantFrom(...paths, 'value', 'type', 'primary', 'display', 'givenName', '$ref', 'schemas', ENT, 'name.givenName', `${ENT}:employeeNumber`),
  fc.string({ maxLength: 5 }),
);
const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  v: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalar, fc.array(tie('v'), { maxLength: 3 }), fc.dictionary(keys, tie('v'), { maxKeys: 4 })),
})).v;
const member = fc.record({ value: fc.oneof(fc.constantFrom('u1', 'u2', ''), scalar), type: fc.constantFrom('User', 'Group', 'group', undefined) }, { requiredKeys: [] });

const opName = fc.oneof({ weight: 12, arbitrary: fc.constantFrom('add', 'Add', 'replace', 'Replace', 'remove', 'REMOVE') }, { weight: 1, arbitrary: fc.constantFrom('move', 1, null) });
const groupPaths = ['displayName', 'DISPLAYNAME', 'externalId', 'id', 'meta', 'members', 'Members', 'members[value eq "u1"]', 'members[value eq "u1" or value eq "u2"]', 'members[display eq "x"]', 'members.value', 'owner', 'members['];
const opFields = (pathList: string[]) => ({
  op: opName,
  path: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...pathList) }, fc.string({ maxLength: 12 }), fc.constant(undefined)),
  value: fc.oneof(value, fc.array(member, { maxLength: 3 })),
});
/** Mostly well-formed operations (op and value present), some with keys missing. */
const operation = (pathList: string[]) =>
  fc.oneof(
    { weight: 5, arbitrary: fc.record(opFields(pathList), { requiredKeys: ['op', 'value'] }) },
    { weight: 1, arbitrary: fc.record(opFields(pathList), { requiredKeys: [] }) },
  );
/** Realistic group operations (Okta, Entra), so that many random group bodies succeed. */
const ids = fc.array(fc.record({ value: fc.constantFrom('u1', 'u2', 'u3') }), { maxLength: 3 });
const groupOp = fc.oneof(
  fc.record({ op: fc.constantFrom('add', 'Add', 'replace', 'remove', 'Remove'), path: fc.constantFrom('members', 'Members'), value: ids }),
  fc.record({ op: fc.constantFrom('remove', 'Remove'), path: fc.constantFrom('members', 'members[value eq "u1"]', 'members[value eq "u1" or value eq "u2"]') }),
  fc.record({ op: fc.constantFrom('add', 'Replace'), path: fc.constantFrom('displayName', 'externalId'), value: fc.oneof(fc.string({ maxLength: 4 }), fc.constant(null)) }),
  fc.record({ op: fc.constant('replace'), value: fc.record({ id: fc.constantFrom('g-1', 'g-2'), displayName: fc.string({ maxLength: 4 }), members: ids }, { requiredKeys: [] }) }),
);
const bodyOf = (op: fc.Arbitrary<unknown>) =>
  fc.oneof(
    { weight: 9, arbitrary: fc.record({ schemas: fc.constantFrom(['urn:ietf:params:scim:api:messages:2.0:PatchOp'], undefined), Operations: fc.array(op, { maxLength: 4 }) }, { requiredKeys: ['Operations'] }) },
    { weight: 1, arbitrary: value },
  );
const body = bodyOf(operation(paths));
const groupBody = bodyOf(fc.oneof({ weight: 3, arbitrary: groupOp }, { weight: 1, arbitrary: operation(groupPaths) }));

const users = [
  normalizeUser({ userName: 'a' }),
  normalizeUser({
    userName: 'b',
    active: 'False',
    name: { givenName: 'B', familyName: 'F' },
    emails: [{ value: 'w@x', type: 'work', primary: true }, { value: 'h@x', type: 'home' }],
    addresses: [{ type: 'work', locality: 'X' }],
    [ENT]: { department: 'D', manager: 'm1' },
    'urn:acme:x:1.0': { k: [1, 2] },
  }),
];

function expectScimClientError(e: unknown): void {
  if (!(e instanceof ScimError) || e.status < 400 || e.status > 499) throw e;
}

describe('PATCH properties', () => {
  it('applyUserPatch: only 4xx ScimErrors, no mutation, results re-normalise to themselves', () => {
    fc.assert(
      fc.property(fc.constantFrom(...users), body, fc.constantFrom(undefined, 'u-1'), (current, b, id) => {
        const [c0, b0] = [structuredClone(current), structuredClone(b)];
        try {
          const out = applyUserPatch(current, b, id);
          expect(normalizeUser(out)).toEqual(out);
          expect(typeof out.userName).toBe('string');
          expect(typeof out.active).toBe('boolean');
        } catch (e) {
          expectScimClientError(e);
        }
        expect(current).toEqual(c0);
        expect(b).toEqual(b0);
      }),
      { numRuns: 3000 },
    );
  });

  it('planGroupPatch: only 4xx ScimErrors, no mutation, new data is canonical, member ops carry ids', () => {
    const group = { displayName: 'G', externalId: 'e' };
    fc.assert(
      fc.property(groupBody, fc.constantFrom(undefined, 'g-1'), (b, id) => {
        const b0 = structuredClone(b);
        try {
          const change = planGroupPatch(group, b, id);
          if (change.data) expect(normalizeGroup(change.data).data).toEqual(change.data);
          for (const op of change.memberOps ?? []) if (op.op !== 'removeAll') expect(op.ids.every((x) => typeof x === 'string' && x !== '')).toBe(true);
        } catch (e) {
          expectScimClientError(e);
        }
        expect(group).toEqual({ displayName: 'G', externalId: 'e' });
        expect(b).toEqual(b0);
      }),
      { numRuns: 3000 },
    );
  });

  it('normalizeUser is idempotent on random bodies', () => {
    fc.assert(
      fc.property(fc.dictionary(keys, value, { maxKeys: 6 }), fc.string({ minLength: 1, maxLength: 5 }), (raw, userName) => {
        try {
          const once = normalizeUser({ ...raw, userName });
          expect(normalizeUser(once)).toEqual(once);
        } catch (e) {
          expectScimClientError(e);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
