import { pickEmail, renderUsername, usernameTemplateProblems, validateUsernameTemplate } from '../../src/core/username-template';
import { scimUser } from '../reconcile/helpers';

const alice = scimUser('id-1', {
  userName: 'alice@corp.example',
  externalId: '00u1abc',
  emails: [
    { value: 'alice.other@corp.example', type: 'home' },
    { value: 'alice@corp.example', type: 'work', primary: true },
  ],
});

describe('renderUsername', () => {
  test.each([
    ['{userName}', 'alice@corp.example'],
    ['okta_{externalId}', 'okta_00u1abc'],
    ['{email}', 'alice@corp.example'],
    ['{emailLocalPart}', 'alice'],
    ['{id}', 'id-1'],
    ['{emailLocalPart}-{externalId}', 'alice-00u1abc'],
  ])('%s → %s', (template, expected) => {
    expect(renderUsername(template, alice)).toEqual({ ok: true, username: expected });
  });

  test('a missing value excludes the user with a reason naming the placeholder', () => {
    const r = renderUsername('okta_{externalId}', scimUser('id-2', { userName: 'bob' }));
    expect(r).toEqual({ ok: false, reason: expect.stringContaining('{externalId}') });
  });
});

describe('pickEmail', () => {
  test('primary, else work, else first', () => {
    expect(pickEmail(alice.data)).toBe('alice@corp.example');
    expect(pickEmail({ userName: 'x', emails: [{ value: 'h@x', type: 'home' }, { value: 'w@x', type: 'work' }] })).toBe('w@x');
    expect(pickEmail({ userName: 'x', emails: [{ value: 'h@x', type: 'home' }, { value: 'o@x', type: 'other' }] })).toBe('h@x');
    expect(pickEmail({ userName: 'x' })).toBeUndefined();
  });
});

describe('template validation (config time)', () => {
  test('valid templates have no problems', () => {
    expect(usernameTemplateProblems('okta_{externalId}')).toEqual([]);
    expect(() => validateUsernameTemplate('{userName}')).not.toThrow();
  });
  test('unknown placeholders, stray braces and constant templates are reported together', () => {
    expect(usernameTemplateProblems('{username}_{oid')).toEqual([
      expect.stringContaining('unknown placeholder {username}'),
      expect.stringContaining('unbalanced brace'),
    ]);
    expect(usernameTemplateProblems('admin')).toEqual([expect.stringContaining('no placeholder')]);
    expect(() => validateUsernameTemplate('{mail}')).toThrow(/unknown placeholder \{mail\}/);
  });
});
