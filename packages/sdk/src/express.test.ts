import express from 'express';
import http from 'node:http';
import { expressMetrics } from './express.js';
import { frameworkSuite, listen } from './middleware.testutil.js';

frameworkSuite(
  'Express',
  async (metrics, gate) => {
    const app = express();
    if (metrics) app.use(expressMetrics({ metrics }));
    const users = express.Router();
    users.get('/:id', (req, res) => {
      res.json({ id: req.params.id });
    });
    app.use('/users', users);
    app.post('/orders', (_req, res) => {
      res.status(201).json({ ok: true });
    });
    app.get('/fail', (_req, res) => {
      res.status(500).type('text/plain').send('boom');
    });
    app.get('/stream', (_req, res) => {
      res.type('text/plain');
      res.write('a\n');
      void gate.wait().then(() => res.end('b\n'));
    });
    return listen(http.createServer(app));
  },
  { streamedResponseSize: true },
);
