// Users, teams and tokens for tests, made through the API itself.
import { http } from './http.ts';

export const TEST_ADMIN = { email: 'admin@test.example.com', password: 'admin-test-password-1' } as const;
export const TEST_PASSWORD = 'member-test-password-1';

export async function login(base: string, email: string, password: string): Promise<{ access_token: string; refresh_token: string }> {
  const res = await http(base, 'POST', '/api/v1/auth/login', { json: { email, password } });
  if (res.status !== 200) throw new Error(`login of ${email} failed: ${res.status} ${res.text}`);
  return res.body.data;
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

export async function createTeam(base: string, token: string, name: string): Promise<string> {
  const res = await http(base, 'POST', '/api/v1/teams', { json: { name }, headers: bearer(token) });
  if (res.status !== 201) throw new Error(`createTeam ${name} failed: ${res.status} ${res.text}`);
  return res.body.data.id;
}

export interface TestUser {
  id: string;
  email: string;
  token: string;
  refreshToken: string;
}

/** Creates a user with a role, adds it to teams (as the admin), and signs it in. */
export async function createUser(base: string, adminToken: string, role: 'admin' | 'operator' | 'viewer', teamIds: string[], label: string = role): Promise<TestUser> {
  const email = `${label}-${Math.random().toString(36).slice(2, 10)}@test.example.com`;
  const res = await http(base, 'POST', '/api/v1/admin/users', { json: { email, name: label, role, password: TEST_PASSWORD }, headers: bearer(adminToken) });
  if (res.status !== 201) throw new Error(`createUser failed: ${res.status} ${res.text}`);
  for (const teamId of teamIds) {
    const added = await http(base, 'POST', `/api/v1/teams/${teamId}/members`, { json: { user_id: res.body.data.id }, headers: bearer(adminToken) });
    if (added.status !== 201) throw new Error(`addTeamMember failed: ${added.status} ${added.text}`);
  }
  const tokens = await login(base, email, TEST_PASSWORD);
  return { id: res.body.data.id, email, token: tokens.access_token, refreshToken: tokens.refresh_token };
}

/** An operator of its own team "Outsiders", for proving another team cannot see or touch a resource. */
export async function createOutsider(base: string, adminToken: string): Promise<{ outsider: TestUser; outsiderTeam: string }> {
  const outsider = await createUser(base, adminToken, 'operator', [], 'outsider');
  return { outsider, outsiderTeam: await createTeam(base, outsider.token, 'Outsiders') };
}
