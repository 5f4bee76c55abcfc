// A minimal waiting room: log in, join the event's queue, then follow the position over Socket.IO.
const form = document.getElementById('login');
const statusLine = document.getElementById('status');
const positionLine = document.getElementById('position');

async function api(path, options = {}) {
  const response = await fetch(path, {
    headers: { 'content-type': 'application/json', ...options.headers },
    ...options,
  });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error ? body.error.message : response.statusText);
  return body;
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const data = Object.fromEntries(new FormData(form));
  try {
    const { token } = await api('/api/auth/login', {
      method: 'POST',
      body: JSON.stringify({ email: data.email, password: data.password }),
    });
    const auth = { authorization: `Bearer ${token}` };
    const joined = await api(`/api/events/${encodeURIComponent(data.eventId)}/queue`, {
      method: 'POST',
      headers: auth,
    });
    positionLine.textContent = `#${joined.position} of ${joined.queueSize}`;
    statusLine.textContent = 'You are in the queue.';
    const socket = io({ auth: { token, eventId: data.eventId }, transports: ['websocket'] });
    const showPlace = (u) => {
      positionLine.textContent = `#${u.position} of ${u.queueSize}`;
    };
    // The place on (re)connect comes in the session's state, later moves in queue:update.
    socket.on('session:state', (s) => {
      if (s.state === 'queued') showPlace(s);
    });
    socket.on('queue:update', showPlace);
    socket.on('queue:admitted', (a) => {
      statusLine.textContent = `Your turn! Shop until ${new Date(a.admittedUntil).toLocaleTimeString()}.`;
      positionLine.textContent = '';
    });
  } catch (err) {
    statusLine.textContent = err.message;
  }
});
