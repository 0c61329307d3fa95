package main

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// schema is the hook's whole database: its own users, and the WeChat
// identities (one per app the user logged in to) that lead to them.
const schema = `
CREATE TABLE IF NOT EXISTS users (
	id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	phone_number text UNIQUE,
	roles        text[] NOT NULL DEFAULT '{visitor}',
	blocked      boolean NOT NULL DEFAULT false,
	created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS wechat_identities (
	appid   text NOT NULL,
	openid  text NOT NULL,
	unionid text,
	user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	PRIMARY KEY (appid, openid)
);
CREATE INDEX IF NOT EXISTS wechat_identities_unionid ON wechat_identities (unionid) WHERE unionid IS NOT NULL;
CREATE INDEX IF NOT EXISTS wechat_identities_user_id ON wechat_identities (user_id);
`

// Store keeps the hook's users in PostgreSQL.
type Store struct{ pool *pgxpool.Pool }

// User is one of the team's users.
type User struct {
	ID          int64
	PhoneNumber string // "" until a phone is bound
	Roles       []string
	Blocked     bool
}

// Identity is a WeChat user in one app, as the hook's request gives it.
type Identity struct {
	AppID, OpenID, UnionID string
}

// Migrate creates the tables. Several replicas starting at once take
// turns.
func (s *Store) Migrate(ctx context.Context) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('claims-hook schema', 0))`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, schema)
		return err
	})
}

// Login returns the user of id, created on the first login: found by the
// unionid when there is one (the same user in every app of the Open
// Platform account), else by the appid and openid.
func (s *Store) Login(ctx context.Context, id Identity) (User, error) {
	var u User
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		uid, err := resolve(ctx, tx, id)
		if err != nil {
			return err
		}
		u, err = load(ctx, tx, uid)
		return err
	})
	return u, err
}

// BindPhone links phone to the user of id. When another account already
// has that phone, the user's account is merged into that one: its WeChat
// identities and roles move there, and it is deleted, so the next login
// from any of them gives the phone's account. Binding makes the user a
// member. A blocked account (either one) is returned unchanged.
func (s *Store) BindPhone(ctx context.Context, id Identity, phone string) (User, error) {
	var u User
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		uid, err := resolve(ctx, tx, id)
		if err != nil {
			return err
		}
		if u, err = load(ctx, tx, uid); err != nil || u.Blocked {
			return err
		}
		// Serialise the bindings of one phone number, so that two
		// accounts binding it at once end up as one.
		if err := lock(ctx, tx, "phone:"+phone); err != nil {
			return err
		}
		var owner int64
		err = tx.QueryRow(ctx, `SELECT id FROM users WHERE phone_number = $1`, phone).Scan(&owner)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			_, err = tx.Exec(ctx, `UPDATE users SET phone_number = $2, roles = `+asMember(`roles`)+` WHERE id = $1`, uid, phone)
		case err != nil:
			return err
		case owner == uid:
			_, err = tx.Exec(ctx, `UPDATE users SET roles = `+asMember(`roles`)+` WHERE id = $1`, uid)
		default:
			if u, err = load(ctx, tx, owner); err != nil || u.Blocked {
				return err
			}
			uid, err = merge(ctx, tx, uid, owner)
		}
		if err != nil {
			return err
		}
		u, err = load(ctx, tx, uid)
		return err
	})
	return u, err
}

// asMember is the SQL for the roles in expr, with member in place of
// visitor, sorted and without repeats.
func asMember(expr string) string {
	return `ARRAY(SELECT DISTINCT r FROM unnest(array_remove(` + expr + `, 'visitor') || '{member}'::text[]) AS r ORDER BY r)`
}

// merge moves the account from into the account into, and returns into.
func merge(ctx context.Context, tx pgx.Tx, from, into int64) (int64, error) {
	if _, err := tx.Exec(ctx, `UPDATE wechat_identities SET user_id = $2 WHERE user_id = $1`, from, into); err != nil {
		return 0, err
	}
	if _, err := tx.Exec(ctx, `UPDATE users SET roles = `+asMember(`roles || (SELECT roles FROM users WHERE id = $1)`)+` WHERE id = $2`, from, into); err != nil {
		return 0, err
	}
	_, err := tx.Exec(ctx, `DELETE FROM users WHERE id = $1`, from)
	return into, err
}

// resolve returns the id of the user of id, creating the user and the
// identity when they are new.
func resolve(ctx context.Context, tx pgx.Tx, id Identity) (int64, error) {
	// Serialise the logins of one WeChat user, so that two first logins
	// at once (two apps, or a resent code) create one account.
	key := "openid:" + id.AppID + ":" + id.OpenID
	if id.UnionID != "" {
		key = "unionid:" + id.UnionID
	}
	if err := lock(ctx, tx, key); err != nil {
		return 0, err
	}
	var uid int64
	err := tx.QueryRow(ctx, `SELECT user_id FROM wechat_identities WHERE appid = $1 AND openid = $2`, id.AppID, id.OpenID).Scan(&uid)
	if err == nil {
		if id.UnionID != "" {
			// The app was bound to an Open Platform account since.
			_, err = tx.Exec(ctx, `UPDATE wechat_identities SET unionid = $3 WHERE appid = $1 AND openid = $2 AND unionid IS DISTINCT FROM $3`, id.AppID, id.OpenID, id.UnionID)
		}
		return uid, err
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return 0, err
	}
	if id.UnionID != "" {
		err = tx.QueryRow(ctx, `SELECT user_id FROM wechat_identities WHERE unionid = $1 LIMIT 1`, id.UnionID).Scan(&uid)
	}
	if id.UnionID == "" || errors.Is(err, pgx.ErrNoRows) {
		err = tx.QueryRow(ctx, `INSERT INTO users DEFAULT VALUES RETURNING id`).Scan(&uid)
	}
	if err != nil {
		return 0, err
	}
	_, err = tx.Exec(ctx, `INSERT INTO wechat_identities (appid, openid, unionid, user_id) VALUES ($1, $2, NULLIF($3, ''), $4)`,
		id.AppID, id.OpenID, id.UnionID, uid)
	return uid, err
}

// lock takes a transaction-scoped advisory lock on key.
func lock(ctx context.Context, tx pgx.Tx, key string) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, key)
	return err
}

func load(ctx context.Context, tx pgx.Tx, uid int64) (User, error) {
	u := User{ID: uid}
	var phone *string
	err := tx.QueryRow(ctx, `SELECT phone_number, roles, blocked FROM users WHERE id = $1`, uid).Scan(&phone, &u.Roles, &u.Blocked)
	if phone != nil {
		u.PhoneNumber = *phone
	}
	return u, err
}
