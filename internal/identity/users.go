package identity

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// User is a console account. It never carries the password hash.
type User struct {
	ID   int64
	Name string
	Role Role
	// MustChangePassword is set for the first administrator's one-time
	// password: the console allows nothing but changing it.
	MustChangePassword bool
	Created            time.Time
	PasswordChanged    time.Time
}

// Errors that callers branch on with errors.Is.
var (
	// ErrBadCredentials: unknown user or wrong password (never says which).
	ErrBadCredentials = errors.New("wrong user name or password")
	// ErrLocked: too many wrong passwords; try again later.
	ErrLocked = errors.New("account locked after repeated failed logins, try again later")
	// ErrExists: a user with that name exists already.
	ErrExists = errors.New("already exists")
	// ErrNotFound: no such user, session or token.
	ErrNotFound = errors.New("not found")
)

var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// AdminName is the first administrator's account name.
const AdminName = "admin"

// CreateUser adds an account. The name is 1 to 64 letters, digits, '.', '_',
// '@' or '-', unique regardless of case.
func (s *Store) CreateUser(ctx context.Context, name, password string, role Role) (User, error) {
	return s.createUser(ctx, name, password, role, false)
}

func (s *Store) createUser(ctx context.Context, name, password string, role Role, mustChange bool) (User, error) {
	if !validName.MatchString(name) {
		return User{}, fmt.Errorf("creating user %q: name must be 1 to 64 letters, digits, '.', '_', '@' or '-'", name)
	}
	if !role.Valid() {
		_, err := ParseRole(string(role))
		return User{}, fmt.Errorf("creating user %q: %w", name, err)
	}
	if err := checkPassword(password); err != nil {
		return User{}, fmt.Errorf("creating user %q: %w", name, err)
	}
	hash, err := hashPassword(password)
	if err != nil {
		return User{}, fmt.Errorf("creating user %q: %w", name, err)
	}
	now := s.now()
	u := User{Name: name, Role: role, MustChangePassword: mustChange, Created: fromMS(ms(now)), PasswordChanged: fromMS(ms(now))}
	res, err := s.db.ExecContext(ctx, `INSERT INTO users (name, role, password_hash, must_change, created, password_changed)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING`, name, string(role), hash, mustChange, ms(now), ms(now))
	if err != nil {
		return User{}, fmt.Errorf("creating user %q: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return User{}, fmt.Errorf("creating user %q: %w", name, ErrExists)
	}
	u.ID, _ = res.LastInsertId()
	s.log.Info("user created", "user", name, "role", string(role))
	return u, nil
}

// EnsureAdmin creates the first administrator, named "admin", when no
// administrator exists, with a random one-time password that must be
// changed at first login. It returns that password and created=true only
// when it made the account; the password is not stored anywhere in clear.
func (s *Store) EnsureAdmin(ctx context.Context) (oneTimePassword string, created bool, err error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE role = ?`, string(RoleAdmin)).Scan(&n); err != nil {
		return "", false, fmt.Errorf("looking for an administrator: %w", err)
	}
	if n > 0 {
		return "", false, nil
	}
	pw := readablePassword(20)
	if _, err := s.createUser(ctx, AdminName, pw, RoleAdmin, true); err != nil {
		return "", false, fmt.Errorf("creating the first administrator: %w", err)
	}
	return pw, true, nil
}

// readablePassword returns n characters without look-alikes (no 0/O, 1/l/I),
// about 5.6 bits each: 20 characters are over 110 bits.
func readablePassword(n int) string {
	const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	out := make([]byte, n)
	for i := range out {
		out[i] = alphabet[randIntn(len(alphabet))]
	}
	return string(out)
}

func randIntn(n int) int {
	// Rejection sampling over one byte; n is small.
	limit := 256 - 256%n
	var b [1]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			panic("identity: crypto/rand failed: " + err.Error())
		}
		if int(b[0]) < limit {
			return int(b[0]) % n
		}
	}
}

type userRow struct {
	User
	hash        string
	failures    int
	lockedUntil int64
}

func (s *Store) userByName(ctx context.Context, name string) (userRow, error) {
	var r userRow
	var role string
	var created, changed int64
	err := s.db.QueryRowContext(ctx, `SELECT id, name, role, password_hash, must_change, failures, locked_until, created, password_changed
		FROM users WHERE name = ?`, name).Scan(&r.ID, &r.Name, &role, &r.hash, &r.MustChangePassword, &r.failures, &r.lockedUntil, &created, &changed)
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrNotFound
	}
	if err != nil {
		return r, err
	}
	r.Role, r.Created, r.PasswordChanged = Role(role), fromMS(created), fromMS(changed)
	return r, nil
}

// User returns the account named name.
func (s *Store) User(ctx context.Context, name string) (User, error) {
	r, err := s.userByName(ctx, name)
	if err != nil {
		return User{}, fmt.Errorf("reading user %q: %w", name, err)
	}
	return r.User, nil
}

// Users lists the accounts by name.
func (s *Store) Users(ctx context.Context) ([]User, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, name, role, must_change, created, password_changed FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("listing users: %w", err)
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		var u User
		var role string
		var created, changed int64
		if err := rows.Scan(&u.ID, &u.Name, &role, &u.MustChangePassword, &created, &changed); err != nil {
			return nil, fmt.Errorf("listing users: %w", err)
		}
		u.Role, u.Created, u.PasswordChanged = Role(role), fromMS(created), fromMS(changed)
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing users: %w", err)
	}
	return out, nil
}

// Authenticate checks a password. It answers ErrBadCredentials for an
// unknown user and a wrong password alike, taking the same time for both,
// and ErrLocked, without checking the password, while the account is locked
// after Config.MaxFailures wrong passwords in a row. Each further failure
// doubles the lock, up to Config.LockMax; a success resets the count.
func (s *Store) Authenticate(ctx context.Context, name, password string) (User, error) {
	r, err := s.userByName(ctx, strings.TrimSpace(name))
	if errors.Is(err, ErrNotFound) {
		verifyPassword(s.dummyHash(), password) // same work as a real check
		return User{}, ErrBadCredentials
	}
	if err != nil {
		return User{}, fmt.Errorf("authenticating %q: %w", name, err)
	}
	now := s.now()
	if ms(now) < r.lockedUntil {
		return User{}, ErrLocked
	}
	ok, err := verifyPassword(r.hash, password)
	if err != nil {
		return User{}, fmt.Errorf("authenticating %q: %w", name, err)
	}
	if !ok {
		return User{}, s.recordFailure(ctx, r, now)
	}
	if r.failures > 0 {
		if _, err := s.db.ExecContext(ctx, `UPDATE users SET failures = 0, locked_until = 0 WHERE id = ?`, r.ID); err != nil {
			return User{}, fmt.Errorf("authenticating %q: %w", name, err)
		}
	}
	return r.User, nil
}

// recordFailure counts a wrong password and locks the account when the
// count reaches the limit. It returns the error Authenticate answers.
func (s *Store) recordFailure(ctx context.Context, r userRow, now time.Time) error {
	var failures int
	err := s.db.QueryRowContext(ctx, `UPDATE users SET failures = failures + 1 WHERE id = ? RETURNING failures`, r.ID).Scan(&failures)
	if err != nil {
		return fmt.Errorf("recording a failed login for %q: %w", r.Name, err)
	}
	if failures < s.cfg.MaxFailures {
		return ErrBadCredentials
	}
	lock := s.cfg.LockBase
	for i := s.cfg.MaxFailures; i < failures && lock < s.cfg.LockMax; i++ {
		lock *= 2
	}
	lock = min(lock, s.cfg.LockMax)
	until := now.Add(lock)
	if _, err := s.db.ExecContext(ctx, `UPDATE users SET locked_until = ? WHERE id = ?`, ms(until), r.ID); err != nil {
		return fmt.Errorf("locking %q: %w", r.Name, err)
	}
	s.log.Warn("account locked after failed logins", "user", r.Name, "failures", failures, "locked_for", lock.String())
	return ErrBadCredentials
}

func (s *Store) dummyHash() string {
	s.dummyOnce.Do(func() {
		h, err := hashPassword(randomSecret(16))
		if err != nil {
			panic(err)
		}
		s.dummy = h
	})
	return s.dummy
}

// ChangePassword checks the old password and sets a new one, clears the
// must-change flag and ends every session of the user (the caller logs the
// user in again).
func (s *Store) ChangePassword(ctx context.Context, name, oldPassword, newPassword string) error {
	u, err := s.Authenticate(ctx, name, oldPassword)
	if err != nil {
		return err
	}
	if oldPassword == newPassword {
		return fmt.Errorf("changing the password of %q: the new password must differ from the old one", name)
	}
	return s.SetPassword(ctx, u.Name, newPassword)
}

// SetPassword sets a user's password without checking the old one (for
// administrators), clears the must-change flag and ends the user's sessions.
func (s *Store) SetPassword(ctx context.Context, name, newPassword string) error {
	if err := checkPassword(newPassword); err != nil {
		return fmt.Errorf("changing the password of %q: %w", name, err)
	}
	hash, err := hashPassword(newPassword)
	if err != nil {
		return fmt.Errorf("changing the password of %q: %w", name, err)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("changing the password of %q: %w", name, err)
	}
	defer tx.Rollback()
	var id int64
	err = tx.QueryRowContext(ctx, `UPDATE users SET password_hash = ?, must_change = 0, failures = 0, locked_until = 0, password_changed = ?
		WHERE name = ? RETURNING id`, hash, ms(s.now()), name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("changing the password of %q: %w", name, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, id); err != nil {
		return fmt.Errorf("changing the password of %q: %w", name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("changing the password of %q: %w", name, err)
	}
	s.log.Info("password changed", "user", name)
	return nil
}
