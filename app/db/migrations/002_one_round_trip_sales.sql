-- A reservation and a payment, each one statement (app/sales/reservations.ts). As a transaction of
-- separate statements they took 8 and 6 round trips (BEGIN … COMMIT): during a drop's drain the
-- buyers' writes were most of the app's and PostgreSQL's CPU per buyer (bench/app-cpu.ts), and
-- each round trip waited for a core again. A statement is its own transaction, with the same
-- READ COMMITTED snapshots per statement inside the function as before; the outcome comes back as
-- one JSON object, the refusals included, and the app turns a refusal into its HTTP error.

-- Outcomes: reserved | reservation_limit | seat_limit | unknown_seats. A seat already in a live
-- reservation fails the insert on one_live_reservation_per_seat (23505), as before.
CREATE FUNCTION reserve_seats(
  p_user_id uuid,
  p_event_id text,
  p_seat_ids text[],
  p_expires_at timestamptz,
  p_max_reservations integer,
  p_max_seats integer
) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_live_reservations integer;
  v_live_seats integer;
  v_found integer;
  v_amount integer;
  v_id uuid;
  v_expires_at timestamptz;
BEGIN
  -- One user's reservations take turns from here to the commit, on whatever instance.
  PERFORM 1 FROM users WHERE id = p_user_id FOR UPDATE;
  SELECT count(DISTINCT r.id)::int, count(rs.seat_id)::int
    INTO v_live_reservations, v_live_seats
    FROM reservations r LEFT JOIN reservation_seats rs ON rs.reservation_id = r.id
   WHERE r.user_id = p_user_id AND r.event_id = p_event_id
     AND (r.status = 'confirmed' OR (r.status = 'pending' AND r.expires_at >= now()));
  IF v_live_reservations + 1 > p_max_reservations THEN
    RETURN jsonb_build_object('outcome', 'reservation_limit', 'liveReservations', v_live_reservations);
  END IF;
  IF v_live_seats + cardinality(p_seat_ids) > p_max_seats THEN
    RETURN jsonb_build_object('outcome', 'seat_limit', 'liveSeats', v_live_seats);
  END IF;

  SELECT count(*)::int, coalesce(sum(t.price_krw), 0)::int
    INTO v_found, v_amount
    FROM seats s JOIN tickets t ON t.id = s.ticket_id
   WHERE s.event_id = p_event_id AND s.seat_id = ANY (p_seat_ids);
  IF v_found <> cardinality(p_seat_ids) THEN
    RETURN jsonb_build_object(
      'outcome', 'unknown_seats',
      'unknownSeatIds', coalesce((
        SELECT jsonb_agg(wanted) FROM unnest(p_seat_ids) AS wanted
         WHERE NOT EXISTS (SELECT 1 FROM seats s WHERE s.event_id = p_event_id AND s.seat_id = wanted)
      ), '[]'::jsonb));
  END IF;

  -- Pending reservations that ran out give their seats back before we claim them.
  WITH gone AS (
    UPDATE reservations r SET status = 'expired'
     WHERE r.status = 'pending' AND r.expires_at < now() AND r.event_id = p_event_id
       AND EXISTS (SELECT 1 FROM reservation_seats rs
                    WHERE rs.reservation_id = r.id AND rs.seat_id = ANY (p_seat_ids))
    RETURNING r.id)
  DELETE FROM reservation_seats WHERE reservation_id IN (SELECT id FROM gone);

  INSERT INTO reservations (user_id, event_id, status, amount_krw, expires_at)
  VALUES (p_user_id, p_event_id, 'pending', v_amount, p_expires_at)
  RETURNING id, expires_at INTO v_id, v_expires_at;
  INSERT INTO reservation_seats (reservation_id, event_id, seat_id)
  SELECT v_id, p_event_id, unnest(p_seat_ids);

  RETURN jsonb_build_object(
    'outcome', 'reserved', 'reservationId', v_id, 'amountKrw', v_amount, 'expiresAt', v_expires_at);
END
$$;

-- Outcomes: paid | not_found | forbidden | already_paid | reservation_expired.
CREATE FUNCTION pay_reservation(p_reservation_id uuid, p_user_id uuid, p_method text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_owner uuid;
  v_status text;
  v_expired boolean;
  v_event_id text;
  v_amount integer;
  v_expires_at timestamptz;
  v_payment_id uuid;
  v_confirmed_at timestamptz;
BEGIN
  SELECT user_id INTO v_owner FROM reservations WHERE id = p_reservation_id;
  IF NOT FOUND THEN
    RETURN jsonb_build_object('outcome', 'not_found');
  END IF;
  IF v_owner <> p_user_id THEN
    RETURN jsonb_build_object('outcome', 'forbidden');
  END IF;
  -- Lock the row: two payments of one reservation serialise here.
  SELECT status, expires_at < now(), event_id, amount_krw, expires_at
    INTO v_status, v_expired, v_event_id, v_amount, v_expires_at
    FROM reservations WHERE id = p_reservation_id FOR UPDATE;
  IF v_status = 'confirmed' THEN
    RETURN jsonb_build_object('outcome', 'already_paid');
  END IF;
  IF v_status = 'expired' OR v_expired THEN
    RETURN jsonb_build_object('outcome', 'reservation_expired');
  END IF;

  INSERT INTO payments (reservation_id, method, amount_krw, status)
  VALUES (p_reservation_id, p_method, v_amount, 'confirmed')
  RETURNING id INTO v_payment_id;
  UPDATE reservations SET status = 'confirmed', confirmed_at = now()
   WHERE id = p_reservation_id
  RETURNING confirmed_at INTO v_confirmed_at;

  RETURN jsonb_build_object(
    'outcome', 'paid',
    'paymentId', v_payment_id,
    'eventId', v_event_id,
    'amountKrw', v_amount,
    'expiresAt', v_expires_at,
    'confirmedAt', v_confirmed_at,
    'seatIds', coalesce((
      SELECT jsonb_agg(seat_id ORDER BY seat_id) FROM reservation_seats
       WHERE reservation_id = p_reservation_id), '[]'::jsonb));
END
$$;
