// The chat page: draws the bot's messages (already sanitised HTML) with their buttons,
// sends what the person types, taps, photographs and records, and keeps up over a WebSocket.
// Every change has an increasing sequence number; after a reconnect the page asks for
// those after the last it holds, so nothing is missed.
(function () {
  'use strict';
  var D = JSON.parse(document.getElementById('data').textContent);
  var S = D.strings;
  var log = document.getElementById('log');
  var form = document.getElementById('form');
  var input = document.getElementById('text');
  var keys = document.getElementById('keys');
  var sheet = document.getElementById('sheet');
  var status = document.getElementById('status');
  var file = document.getElementById('file');
  var shown = {};          // message id -> {el, seq, markup}
  var lastSeq = 0;
  var sock = null;
  var wait = 1000;
  var unreadDivider = null;
  var baseTitle = document.title;
  var unseen = 0;

  function nonce() {
    var a = new Uint32Array(2);
    crypto.getRandomValues(a);
    return (a[0] & 0x1fffff) * 4294967296 + a[1] + 1;
  }

  function toast(text, alert) {
    var el = document.createElement('div');
    el.className = alert ? 'toast alert' : 'toast';
    el.textContent = text;
    el.setAttribute('role', 'alert');
    document.body.appendChild(el);
    setTimeout(function () { el.remove(); }, alert ? 6000 : 2500);
    if (alert) { el.addEventListener('click', function () { el.remove(); }); }
  }

  function button(label, onTap) {
    var b = document.createElement('button');
    b.type = 'button';
    b.textContent = label;
    b.addEventListener('click', onTap);
    return b;
  }

  function inline(m, markup) {
    var kb = document.createElement('div');
    kb.className = 'kb';
    markup.inline_keyboard.forEach(function (row) {
      var r = document.createElement('div');
      r.className = 'row';
      row.forEach(function (k) {
        if (k.url) {
          var a = document.createElement('a');
          a.href = k.url;
          a.rel = 'noopener noreferrer';
          a.target = '_blank';
          a.textContent = k.text;
          r.appendChild(a);
        } else {
          r.appendChild(button(k.text, function (ev) {
            kb.querySelectorAll('button').forEach(function (x) { x.disabled = true; });
            press(m.id, k.callback_data).then(function () {
              kb.querySelectorAll('button').forEach(function (x) { x.disabled = false; });
            });
            ev.preventDefault();
          }));
        }
      });
      kb.appendChild(r);
    });
    return kb;
  }

  function draw(m) {
    var known = shown[m.id];
    if (known && known.seq >= m.seq) { return; }
    var el = known ? known.el : document.createElement('div');
    el.className = m.mine ? 'msg me' : 'msg';
    el.textContent = '';
    if (m.file && m.photo) {
      var img = document.createElement('img');
      img.src = m.file;
      img.alt = '';
      img.loading = 'lazy';
      el.appendChild(img);
    } else if (m.file && m.voice) {
      var au = document.createElement('audio');
      au.src = m.file;
      au.controls = true;
      au.preload = 'none';
      el.appendChild(au);
    } else if (m.file) {
      var a = document.createElement('a');
      a.href = m.file;
      a.textContent = '⬇';
      el.appendChild(a);
    }
    var body = document.createElement('div');
    body.className = 'text';
    body.innerHTML = m.html;  // sanitised on the server: b, i, a, code and pre only
    el.appendChild(body);
    if (m.markup && m.markup.inline_keyboard) { el.appendChild(inline(m, m.markup)); }
    if (!known) {
      var after = null;
      Object.keys(shown).forEach(function (id) {
        if (+id > m.id && (after === null || +id < after)) { after = +id; }
      });
      log.insertBefore(el, after === null ? null : shown[after].el);
    }
    shown[m.id] = {el: el, seq: m.seq, markup: m.markup, mine: m.mine};
  }

  function replyKeyboard() {
    var ids = Object.keys(shown).map(Number).sort(function (a, b) { return b - a; });
    for (var i = 0; i < ids.length; i++) {
      var mk = shown[ids[i]].markup;
      if (mk && (mk.keyboard || mk.remove_keyboard)) { return mk.keyboard ? mk : null; }
    }
    return null;
  }

  function drawKeys() {
    var mk = replyKeyboard();
    keys.textContent = '';
    keys.hidden = !mk;
    input.type = 'text';
    input.placeholder = (mk && mk.input_field_placeholder) || S.placeholder;
    if (!mk) { return; }
    mk.keyboard.forEach(function (row) {
      row.forEach(function (k) {
        keys.appendChild(button(k.text, function () {
          if (k.request_contact) {
            // No contact card in a browser: the number is typed instead.
            input.type = 'tel';
            input.placeholder = S.phone_hint;
            input.focus();
          } else {
            say(k.text);
          }
        }));
      });
    });
  }

  function apply(list) {
    var fresh = 0;
    list.forEach(function (m) {
      if (!shown[m.id] && !m.mine) { fresh++; }
      draw(m);
      if (m.seq > lastSeq) { lastSeq = m.seq; }
    });
    if (list.length) {
      drawKeys();
      log.scrollTop = log.scrollHeight;
      if (document.visibilityState !== 'visible' && fresh) {
        unseen += fresh;
        document.title = '(' + unseen + ') ' + baseTitle;
      }
      read();
    }
  }

  function read() {
    if (document.visibilityState === 'visible' && sock && sock.readyState === 1) {
      sock.send(JSON.stringify({read: lastSeq}));
    }
  }

  function showUnread(count) {
    if (!count || unreadDivider) { return; }
    var bot = Object.keys(shown).map(Number).filter(function (id) { return !shown[id].mine; });
    bot.sort(function (a, b) { return a - b; });
    var first = bot[Math.max(0, bot.length - count)];
    if (first === undefined) { return; }
    unreadDivider = document.createElement('div');
    unreadDivider.className = 'divider';
    unreadDivider.textContent = S.unread.replace('{count}', String(count));
    log.insertBefore(unreadDivider, shown[first].el);
  }

  function post(url, body, form) {
    var headers = {'X-CSRF-Token': D.csrf};
    if (!form) { headers['Content-Type'] = 'application/json'; }
    return fetch(url, {
      method: 'POST', headers: headers, credentials: 'same-origin',
      body: form ? body : JSON.stringify(body)
    }).then(function (r) {
      return r.json().then(function (j) {
        if (!r.ok) { throw new Error(j.error || S.failed); }
        return j;
      });
    }).then(function (j) {
      apply(j.messages || []);
      (j.toasts || []).forEach(function (t) { toast(t.text, t.alert); });
    }).catch(function (e) {
      toast(e && e.message && e.message.indexOf('fetch') < 0 ? e.message : S.failed, true);
    });
  }

  function say(text) {
    return post('/api/send', {nonce: nonce(), after: lastSeq, kind: 'text', text: text});
  }

  function press(id, data) {
    return post('/api/send', {
      nonce: nonce(), after: lastSeq, kind: 'button', data: data, message_id: id
    });
  }

  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var text = input.value.trim();
    if (!text) { return; }
    input.value = '';
    say(text);
  });

  function shrink(picked) {
    // A phone's photo is several megabytes: sent at 1600 px it is a few hundred KB.
    return new Promise(function (done) {
      var url = URL.createObjectURL(picked);
      var img = new Image();
      img.onload = function () {
        var scale = Math.min(1, 1600 / Math.max(img.width, img.height));
        var c = document.createElement('canvas');
        c.width = Math.round(img.width * scale);
        c.height = Math.round(img.height * scale);
        c.getContext('2d').drawImage(img, 0, 0, c.width, c.height);
        URL.revokeObjectURL(url);
        c.toBlob(function (b) { done(b || picked); }, 'image/jpeg', 0.85);
      };
      img.onerror = function () { URL.revokeObjectURL(url); done(picked); };
      img.src = url;
    });
  }

  file.addEventListener('change', function () {
    var picked = file.files && file.files[0];
    file.value = '';
    if (!picked) { return; }
    toast(S.sending, false);
    // A recording goes as it is, as a voice message; a picture is made smaller first.
    var audio = /^audio\//.test(picked.type);
    (audio ? Promise.resolve(picked) : shrink(picked)).then(function (blob) {
      var fd = new FormData();
      fd.append('nonce', String(nonce()));
      fd.append('after', String(lastSeq));
      fd.append(audio ? 'audio' : 'photo', blob, audio ? 'voice' : 'photo.jpg');
      return post('/api/upload', fd, true);
    });
  });

  document.getElementById('menu').addEventListener('click', function () {
    if (!sheet.hidden) { sheet.hidden = true; return; }
    sheet.textContent = '';
    D.menu.forEach(function (c) {
      sheet.appendChild(button('/' + c[0] + '  ' + c[1], function () {
        sheet.hidden = true;
        say('/' + c[0]);
      }));
    });
    sheet.appendChild(button(S.close, function () { sheet.hidden = true; }));
    sheet.hidden = false;
  });

  function catchUp() {
    return fetch('/api/changes?after=' + lastSeq, {credentials: 'same-origin'})
      .then(function (r) { return r.ok ? r.json() : {messages: []}; })
      .then(function (j) { apply(j.messages || []); })
      .catch(function () {});
  }

  function connect() {
    var proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    sock = new WebSocket(proto + '//' + location.host + '/ws');
    sock.onopen = function () {
      sock.send(JSON.stringify({csrf: D.csrf, after: lastSeq}));
      wait = 1000;
      status.hidden = true;
    };
    sock.onmessage = function (ev) {
      var j = JSON.parse(ev.data);
      apply(j.messages || []);
      if (j.unread) { showUnread(j.unread); }
    };
    sock.onclose = function () {
      sock = null;
      status.textContent = S.offline;
      status.hidden = false;
      catchUp();
      setTimeout(connect, wait);
      wait = Math.min(wait * 2, 15000);
    };
  }

  document.addEventListener('visibilitychange', function () {
    if (document.visibilityState === 'visible') {
      unseen = 0;
      document.title = baseTitle;
      read();
    }
  });
  // A quiet ping now and then: the server catches the page up if a push was lost.
  setInterval(function () { if (sock && sock.readyState === 1) { sock.send('{}'); } }, 25000);

  connect();
  if (D.start) {
    history.replaceState(null, '', '/');
    say('/start ' + D.start);
  }
})();
