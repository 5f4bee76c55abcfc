-- TIKETI's tables (ARCHITECTURE.md: users, events, tickets, seats, reservations, payments).
CREATE TABLE users (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email         text NOT NULL UNIQUE,
  name          text NOT NULL,
  password_hash text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE events (
  id            text PRIMARY KEY,
  name          text NOT NULL,
  venue         text NOT NULL,
  starts_at     timestamptz NOT NULL,
  -- NULL: the waiting room is not admitting yet.
  sales_open_at timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Ticket types and their prices.
CREATE TABLE tickets (
  id        text PRIMARY KEY,
  event_id  text NOT NULL REFERENCES events (id) ON DELETE CASCADE,
  name      text NOT NULL,
  price_krw integer NOT NULL CHECK (price_krw >= 0),
  UNIQUE (event_id, name)
);

CREATE TABLE seats (
  event_id  text NOT NULL REFERENCES events (id) ON DELETE CASCADE,
  seat_id   text NOT NULL,
  section   text NOT NULL,
  row_label text NOT NULL,
  number    integer NOT NULL,
  ticket_id text NOT NULL REFERENCES tickets (id),
  PRIMARY KEY (event_id, seat_id)
);

CREATE TABLE reservations (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id      uuid NOT NULL REFERENCES users (id),
  event_id     text NOT NULL REFERENCES events (id),
  status       text NOT NULL CHECK (status IN ('pending', 'confirmed', 'expired')),
  amount_krw   integer NOT NULL CHECK (amount_krw >= 0),
  expires_at   timestamptz NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  confirmed_at timestamptz
);
CREATE INDEX reservations_user ON reservations (user_id);

-- A seat belongs to at most one live (pending or confirmed) reservation per event: the database,
-- not only the code, makes a double sale impossible. Expired reservations give their rows up.
CREATE TABLE reservation_seats (
  reservation_id uuid NOT NULL REFERENCES reservations (id) ON DELETE CASCADE,
  event_id       text NOT NULL,
  seat_id        text NOT NULL,
  PRIMARY KEY (reservation_id, seat_id),
  CONSTRAINT one_live_reservation_per_seat UNIQUE (event_id, seat_id),
  FOREIGN KEY (event_id, seat_id) REFERENCES seats (event_id, seat_id)
);

CREATE TABLE payments (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  reservation_id uuid NOT NULL UNIQUE REFERENCES reservations (id),
  method         text NOT NULL,
  amount_krw     integer NOT NULL,
  status         text NOT NULL CHECK (status IN ('confirmed')),
  created_at     timestamptz NOT NULL DEFAULT now()
);
