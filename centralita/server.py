"""The composition root of `centralita serve`: builds every service and runs until a signal.

Only this module knows all the packages (DESIGN.md). Start order: media clock, SIP UA (UDP,
TCP, TLS), HTTP last, so `/healthz` answering means calls can be taken. Stop order is the
reverse, and every owned task is cancelled and awaited.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from assist.index import KnowledgeBase
from cases.csat import SurveyStore
from cases.db import private_dir
from cases.events import InProcessBus
from cases.gdpr_erase import Gdpr
from cases.opt_outs import OptOutStore
from cases.redis_bus import RedisBus
from cases.review_store import ReviewStore
from cases.store import CaseStore, system_clock
from centralita.assist_live import AssistedTranscripts
from centralita.call_cases import CallInteractions, CaseCalls, IvrCalls
from centralita.call_monitor import build_monitors, parties_recorded
from centralita.csat_surveys import CsatSurveys
from centralita.desk_relay import DeskRelay
from centralita.gdpr_setup import holders_for_server
from centralita.handover_setup import CallHandover
from centralita.logs_entry import LoggedCalls, log_context_middleware, logged_verbs
from centralita.metrics import ServerMetrics, Sources
from centralita.metrics_http import add_metrics_route, serve_metrics_apart
from centralita.postcall import open_post_call
from centralita.preferred_channel import PreferredChannels
from centralita.realtime import apply_media_scheduling
from centralita.recording import (
    CaseInteractions,
    Consent,
    RecordedCalls,
    agent_recording,
    chain_bridged,
    espeak_announcer,
    open_recordings,
)
from centralita.routing_setup import CaseNotes, RoutingStack, start_routing
from centralita.settings import Settings
from centralita.speech import SpeechStack, TranscribedCalls, build_speech
from centralita.tls import CertificateReloader, new_server_context, server_files
from centralita.wallboard import AcdBoard, add_wallboard
from centralita.wallboard_nodes import NodeCalls
from channels.attachments import AttachmentStore
from channels.chat import ChatService
from channels.chat_call import ChatCalls
from channels.chat_tokens import VisitorTokens
from channels.chat_tokens import load_secret as load_chat_secret
from channels.email_stack import EmailStack, open_email
from channels.handover import Handover
from channels.handover_tokens import HandoverTokens
from channels.handover_tokens import load_secret as load_handover_secret
from channels.twilio_client import TwilioRest
from channels.twilio_messaging import TwilioMessaging
from ivr.interpreter import Interpreter
from ivr.media.recorder import VoicemailBox
from ivr.media.tts import EspeakTts
from ivr.registry import FlowRegistry
from ivr.services import Services, UnavailableRouter
from media.clock import LoopClock
from media.rtp.ports import PortAllocator
from media.ticker import MediaTicker
from recordings.postcall import PostCallPass
from recordings.service import Recordings
from voice.bridging import media_of, set_live_mixer
from voice.call import Call
from voice.calls import CallHandler, CallManager
from voice.conference_monitor import MonitorError, Monitors
from voice.demo import DemoHandler
from voice.dialplan import DialPlan, DialRefused
from voice.sip.abuse import SourceGuard
from voice.sip.auth import AuthPolicy
from voice.sip.errors import SipError, SipParseError
from voice.sip.headers import SipUri
from voice.sip.registrar import Registrar, RegistrarConfig
from voice.sip.ua import SipUserAgent, UaConfig
from voice.transcription_service import TranscriptionService
from voice.transfer import SipTransferer, sip_from_uri
from voice.trust import RegisteredSources, TrustedSources
from voice.twilio.control import TwilioCallControl
from voice.twilio.stream import TwilioStreams
from voice.twilio.tokens import StreamTokens
from voice.webrtc.browser_caller import BrowserCallers
from web.app import build_app
from web.assist_api import add_assist_routes
from web.auth import Auth, ConfigToken, ConfigTokens, Role, require
from web.auth.bootstrap import ensure_admin
from web.auth.redis_sessions import RedisSessionStore
from web.auth.sessions import SessionStore
from web.auth.store import UserStore
from web.auth.throttle import LoginThrottle
from web.case_access import CaseAccess, Teams
from web.cases_api import add_case_routes
from web.chat_api import add_chat_routes
from web.customers_api import add_customer_routes
from web.desk.api import add_desk_routes
from web.email_api import add_email_routes
from web.handover_api import add_handover_routes
from web.journey_api import add_journey_routes
from web.jsonbody import JsonBodyError, read_json
from web.monitor_api import MonitorApi, add_monitor_routes
from web.preference_api import add_preference_routes
from web.ratelimit import RateLimiter, rate_limit_middleware
from web.recordings_api import RecordingsApi, add_recording_routes
from web.review import ReviewApi, add_review_routes
from web.routing_api import add_routing_routes
from web.summary_api import add_summary_routes
from web.twilio_api import add_twilio_routes
from web.twilio_voice_api import TwilioVoiceWeb, add_twilio_voice_routes

log = logging.getLogger("centralita")


def default_prompt() -> Path:
    return Path(str(resources.files("media") / "prompts" / "welcome.wav"))


class Server:
    """Everything `centralita serve` runs, startable and stoppable from tests too."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.clock = LoopClock()
        self.ticker = MediaTicker()
        self.ua: SipUserAgent | None = None
        self.calls: CallManager | None = None
        self._runner: web.AppRunner | None = None
        self.store: CaseStore | None = None
        self.users: UserStore | None = None
        self.sessions: SessionStore | None = None
        self.app: web.Application | None = None
        self.speech: SpeechStack | None = None
        self.recordings: Recordings | None = None
        self.post_call: PostCallPass | None = None
        self.review: ReviewStore | None = None  # transcript search and QA (web.review)
        self.flows: FlowRegistry | None = None
        # What IVR verbs find in `Services.extra` (filled in as the parts are built).
        self.ivr_extra: dict[str, Any] = {}
        self.preferences: PreferredChannels | None = None  # issue 12: preferred channel
        self.csat: CsatSurveys | None = None  # the one-question survey after a contact
        self.routing: RoutingStack | None = None
        self.monitors: Monitors | None = None  # supervisors and conference parties on calls
        self._http: aiohttp.ClientSession | None = None
        self.opt_outs: OptOutStore | None = None
        self.twilio: TwilioMessaging | None = None
        self.twilio_voice: TwilioStreams | None = None
        self.browser_calls: BrowserCallers | None = None  # the chat widget's "call us"
        self._twilio_calls: TwilioRest | None = None  # REST call control (hang up, <Dial>)
        self.email: EmailStack | None = None
        self._redis_bus: RedisBus | None = None  # the event bus when nodes share Redis
        self._desk_relay: DeskRelay | None = None
        self._node_calls: NodeCalls | None = None  # every node's calls on the wallboard
        # GDPR export and erasure (centralita.gdpr_setup: register new stores there).
        self.gdpr: Gdpr | None = None
        self._gdpr_close: Callable[[], Awaitable[None]] | None = None
        self.started = False
        # Prometheus figures (centralita.metrics): a registry of this server's own.
        self.metrics = ServerMetrics()
        self._metrics_runner: web.AppRunner | None = None
        # Renewed TLS certificates are served without a restart (polled, and on SIGHUP).
        self.tls_reloader: CertificateReloader | None = None
        # The one check every call the server places goes through (callbacks, transfers,
        # customers rung back, the debug dial): voice.dialplan.
        trunk = settings.trunk
        self.dialplan = DialPlan(settings.dialplan, region=settings.default_region,
                                 trunk=trunk.hostport if trunk else None,
                                 trunk_params=trunk.uri_params if trunk else "")

    async def start(self) -> None:
        s = self.settings
        if private_dir(s.data_dir):
            # Cases, hashes, recordings and keys live here: it was open to other local users.
            log.warning("data directory %s was open to other users; made it private (0700)",
                        s.data_dir)
        cert, key = server_files(s.tls_cert, s.tls_key, s.data_dir)
        tls = new_server_context(cert, key)
        self.tls_reloader = CertificateReloader(tls, cert, key)
        self.tls_reloader.start()
        registrar = Registrar(
            RegistrarConfig(
                realm=s.registrar.realm,
                users=s.registrar.users,
                policy=AuthPolicy(algorithms=s.registrar.algorithms),
            ),
            self.clock,
        )
        # Which phones registered with a password, and from where (trusted callers).
        registrations = RegisteredSources(registrar)
        if s.tls_listen.host != s.sip_listen.host:
            log.warning("TLS host differs from SIP host; TLS listens on %s", s.sip_listen.host)
        self.ua = SipUserAgent(
            self.clock,
            UaConfig(
                hosts=(s.sip_listen.host,),
                udp_port=s.sip_listen.port,
                tcp_port=s.sip_listen.port,
                tls_port=s.tls_listen.port,
                tls_server_context=tls,
                # A TLS trunk's CA (voice.trunk); None: the system's CAs.
                tls_client_context=s.trunk.client_context() if s.trunk else None,
                public_host=s.public_host,
            ),
            on_register=registrations.on_register,
        )
        self.ua.on_sent = self.metrics.sip_sent
        if s.sip_abuse.enabled:
            # Scanners and floods get no answer; the trunks (trusted_sources) are never banned.
            exempt = s.sip_abuse.exempt
            self.ua.guard = SourceGuard(s.sip_abuse, self.clock.now, exempt=(
                exempt if exempt is not None else s.trusted_sources))
        bus: InProcessBus | RedisBus
        if s.routing.store == "redis":
            # Several nodes: a case's live view shows what any node adds (cases.redis_bus).
            bus = self._redis_bus = RedisBus.from_url(
                s.routing.redis_url, prefix=s.routing.key_prefix + "bus:",
                node_id=s.routing.node_id)
            await bus.start()
        else:
            bus = InProcessBus()
        self.store = await CaseStore.open(s.database_url, bus=bus, default_region=s.default_region)
        self.metrics.watch_engine(self.store.engine, "cases")
        interactions = CallInteractions(self.store, self.clock)
        # Agent assist: the knowledge base searched from each caller segment (assist/).
        kb = (KnowledgeBase(s.assist.articles, base_url=s.assist.base_url)
              if s.assist is not None else None)
        if s.transcription != "off":
            self.speech = await build_speech(
                s.transcription, s.transcription_model, s.vad, s.data_dir,
                interactions if kb is None or s.assist is None else AssistedTranscripts(
                    interactions, kb, bus, limit=s.assist.suggestions),
                self.clock,
            )
        if s.routing_file is not None:
            self.routing = await start_routing(
                s.routing_file, database_url=s.database_url, clock=self.clock,
                calls=lambda: self.calls, sip_host=str(s.sip_listen), registrar=registrar,
                plan=self.dialplan, tts=EspeakTts(s.data_dir / "tts"),
                cases=self.store, interactions=interactions, ticker=self.ticker,
                webrtc_hosts=_webrtc_hosts(s.http_listen.host), store_settings=s.routing,
            )
            if self._redis_bus is not None:
                # An agent's desk on another node takes this node's calls (desk_relay).
                self._desk_relay = DeskRelay(self._redis_bus, key_prefix=s.routing.key_prefix)
                await self._desk_relay.start(self.routing.desks)
                self.routing.desks.relay = self._desk_relay
        if s.recordings.enabled:
            # Repairs recordings a killed process left open before any call is recorded.
            self.recordings = await open_recordings(s.data_dir, s.database_url, s.recordings)
            ticker = self.ticker
            self.recordings.tick_index = lambda: ticker.tick_index
            if s.post_call.enabled:
                self.post_call = await open_post_call(
                    s.post_call, s.data_dir, s.database_url, self.store, self.recordings)
        if self.routing is not None:
            self.routing.acd.on_bridged = chain_bridged(
                agent_transcription(self.speech.service) if self.speech is not None else None,
                agent_recording(self.recordings) if self.recordings is not None else None)
        handler: CallHandler
        if s.flows_dir is not None:
            handler = IvrCalls(await self._start_ivr(s.flows_dir, interactions))
        else:
            handler = DemoHandler(
                s.demo_prompt or default_prompt(), s.demo_hangup_after, s.demo_answer_after
            )
        if self.speech is not None:
            handler = TranscribedCalls(handler, self.speech.service, self.speech.languages)
        if self.recordings is not None:
            # Consent (per flow and queue) is decided once, at the call's start.
            handler = RecordedCalls(
                handler, self.recordings, interactions, cases=CaseInteractions(self.store),
                consent=Consent(s.recordings, lambda: self.flows),
                speak=espeak_announcer(EspeakTts(s.data_dir / "tts")))
        handler = CaseCalls(handler, interactions)
        # Outermost: the call's log context covers everything above.
        handler = LoggedCalls(handler)
        self.calls = CallManager(
            self.ua, self.clock, self.ticker, PortAllocator(s.rtp_port_min, s.rtp_port_max),
            s.sip_listen.host if s.public_host is None else s.public_host, handler,
            debug_dir=s.data_dir / "debug" if s.debug_api else None,
            inband_dtmf=s.inband_dtmf,
            trust=TrustedSources(s.trusted_sources, registrations),
            trunk=s.trunk,
        )
        self.calls.on_ended = self.metrics.call_ended
        self.metrics.watch_ticker(self.ticker)
        if self.speech is not None:
            self.metrics.watch_transcripts(self.speech.service)
        self.metrics.read_from(Sources(
            ua=self.ua, calls=self.calls, ticker=self.ticker, bus=bus, store=self.store,
            transcription=self.speech.service if self.speech is not None else None,
            asr_pool=self.speech.pool if self.speech is not None else None,
            acd=self.routing.service if self.routing is not None else None))
        await self.ticker.start()
        await self.ua.start()
        app = build_app(
            self.health, self.calls.debug_view if s.debug_api else None, await self._auth()
        )
        # Outermost: every request logs in a context of its own (centralita.logs_entry).
        app.middlewares.insert(0, log_context_middleware)
        if s.api_limits.enabled:
            # A request budget per route and caller (web.ratelimit), inside the auth
            # middleware so that a logged-in caller is counted as themselves.
            app.middlewares.append(
                rate_limit_middleware(RateLimiter(s.api_limits, self.clock.now)))
        # Who reads which case: agents their offers, calls and recent contacts; supervisors
        # their teams' (from the routing file); admins all.
        add_case_routes(app, self.store, bus, access=CaseAccess(
            self.store, recent_window=s.cases.agent_recent_window,
            teams=Teams.from_config(self.routing.teams) if self.routing else None,
            live=self.routing.desks if self.routing else None))
        add_summary_routes(app)  # interaction summaries and case facts, same access rules
        add_journey_routes(app)  # journey figures (supervisors)
        if kb is not None:
            add_assist_routes(app, kb)
        if s.twilio is not None:
            # SMS and WhatsApp through Twilio: signed webhooks in, the desk's sends out
            # (through the same dial plan as calls, and the opt-out table).
            self.opt_outs = await OptOutStore.open(s.database_url, now=system_clock)
            self.twilio = TwilioMessaging.open(
                s.twilio, cases=self.store, opt_outs=self.opt_outs, plan=self.dialplan,
                attachments=AttachmentStore(s.data_dir / "attachments"),
                default_region=s.default_region)
            add_twilio_routes(app, self.twilio)
            # Twilio Voice: a call Twilio carries arrives as a Media Stream and runs through
            # the very handler SIP calls do (IVR, queue, case, transcription, recording).
            self.twilio_voice = TwilioStreams(
                account_sid=s.twilio.account_sid, tokens=StreamTokens(self.clock.now),
                ticker=self.ticker, clock=self.clock, handler=handler)
            self._twilio_calls = TwilioRest(s.twilio)
            control = TwilioCallControl(self._twilio_calls.client, s.twilio.account_sid,
                                        self.dialplan)
            add_twilio_voice_routes(
                app, TwilioVoiceWeb(s.twilio, self.twilio_voice, control), debug=s.debug_api)
        if s.email is not None:
            # Email: agents send from a case; replies come in on the SMTP listener.
            self.email = await open_email(s.email, store=self.store, data_dir=s.data_dir,
                                          tls_context=tls)
            add_email_routes(app, self.email.cases)
        visitors: VisitorTokens | None = None
        if s.chat is not None:
            # Web chat: the widget's socket (visitor tokens signed with a key in the data dir)
            # and the agents' chat route, over the case event bus the desk's live view reads.
            visitors = tokens = VisitorTokens(load_chat_secret(s.data_dir))
            chat_calls: ChatCalls | None = None
            if s.chat.call_to is not None:
                # "Call us": the visitor's browser calls through the very handler SIP calls
                # do (IVR, queue, case, transcription, recording), on the chat's case, and
                # untrusted: a web page never makes the server dial.
                self.browser_calls = BrowserCallers(
                    ticker=self.ticker, handler=handler, max_live=s.chat.call_max_live,
                    host_addresses=_webrtc_hosts(s.http_listen.host))
                chat_calls = ChatCalls(self.browser_calls, dialed=s.chat.call_to)
                if self.routing is not None:  # the widget says when an agent took the call
                    self.routing.acd.on_bridged = chain_bridged(
                        self.routing.acd.on_bridged, self.browser_calls.bridged)
            add_chat_routes(app, ChatService(self.store, bus, tokens, s.chat, calls=chat_calls))
        # Handover: continue by SMS / email / chat with the summary and a signed chat link.
        self.handover = Handover(
            self.store, HandoverTokens(load_handover_secret(s.data_dir)),
            base_url=s.twilio.public_url if s.twilio is not None else None, wall=time.time,
            visitors=visitors, sms=self.twilio,
            email=self.email.cases if self.email is not None else None)
        add_handover_routes(app, self.handover)
        # The customer's preferred channel: a reply that chooses one, callback confirmations
        # sent there, the desk's default handover channel (centralita.preferred_channel).
        self.preferences = await PreferredChannels.open(
            s.database_url, self.store, now=system_clock, sms=self.twilio,
            email=self.email.cases if self.email is not None else None)
        await self.preferences.follow(bus)
        add_preference_routes(app, self.preferences.store)
        if self.routing is not None and self.routing.csat:
            self.csat = CsatSurveys(
                await SurveyStore.open(s.database_url, now=system_clock),
                self.preferences.store, channels=self.routing.csat, sms=self.twilio,
                email=self.email.cases if self.email is not None else None)
            await self.csat.follow(bus)
        # A call texted the summary and a chat link: by a queue's deflect key, or the IVR's
        # handover / sms verbs (Services.extra["handover"]). Untrusted calls never are.
        call_handover = CallHandover(self.handover, self.store,
                                     CaseNotes(self.store, interactions).case_of_call,
                                     gate=self.dialplan)
        self.ivr_extra["handover"] = call_handover
        if self.routing is not None:
            self.routing.acd.deflector = call_handover
            self.routing.acd.on_callback = self.preferences
        if self.routing is not None:
            add_routing_routes(app, self.routing.service)
            add_desk_routes(app, self.routing.desks)
            # Listen / whisper / barge and conference parties, on calls bridged by the mixer.
            if not s.live_mixer:
                set_live_mixer(False)
            self.monitors = build_monitors(
                self.routing.desks,
                heard=parties_recorded(self.recordings) if self.recordings else None)
            add_monitor_routes(app, MonitorApi(self.monitors, MonitorError))
            # The supervisor's page: the live wallboard (deltas), calls, listen/whisper/barge.
            add_wallboard(app, self.routing.acd, self.store, self.monitors,
                          nodes=self._node_calls_for if self._redis_bus is not None else None,
                          events=bus)
        if self.recordings is not None:
            # Review: agents their own, supervisors their teams', admins all; all audited.
            recordings_api = RecordingsApi(
                self.recordings, CaseInteractions(self.store),
                Teams.from_config(self.routing.teams) if self.routing else None)
            add_recording_routes(app, recordings_api)
            # The review page: player, synced transcript, search, QA reviews (web.review).
            self.review = await ReviewStore.open(s.database_url)
            add_review_routes(app, ReviewApi(recordings_api, self.review))
        # GDPR: one customer's export and erasure across every store, admins only.
        self.gdpr, self._gdpr_close = await holders_for_server(self)
        add_customer_routes(app, self.gdpr)
        if s.debug_api:
            require(app, app.router.add_post("/api/debug/dial", self._debug_dial), Role.ADMIN)
            require(app, app.router.add_get("/api/debug/media", self._debug_media), Role.ADMIN)
        if s.metrics.enabled and s.metrics.port is not None:
            self._metrics_runner = await serve_metrics_apart(
                self.metrics, s.metrics.bind, s.metrics.port)
        elif s.metrics.enabled:
            add_metrics_route(app, self.metrics, Role.parse(s.metrics.require_role))
        self.app = app
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, s.http_listen.host, s.http_listen.port)
        await site.start()
        self.started = True
        log.info(
            "centralita up: SIP udp/tcp %s tls %s, HTTP %s",
            s.sip_listen, s.tls_listen, s.http_listen,
        )

    async def _auth(self) -> Auth:
        """Users (the first admin made if there are none), sessions, throttling, tokens."""
        s = self.settings
        self.users = await UserStore.open(s.database_url)
        await ensure_admin(self.users, s.data_dir, s.auth.admin_password_file)
        if s.sessions.store == "redis":
            self.sessions = await RedisSessionStore.open(
                s.sessions.redis_url, self.clock.now, prefix=s.sessions.key_prefix)
        else:
            self.sessions = SessionStore(self.clock.now)
        return Auth(
            users=self.users,
            sessions=self.sessions,
            throttle=LoginThrottle(self.clock.now),
            config_tokens=ConfigTokens(
                ConfigToken(t.name, Role.parse(t.role), t.digest) for t in s.auth.tokens
            ),
            cookie_secure=s.auth.cookie_secure,
        )

    async def _start_ivr(
        self, flows_dir: Path, interactions: CallInteractions
    ) -> Callable[[Call], Awaitable[object]]:
        """The flow registry (hot reload) and interpreter, with the verbs' services."""
        self.flows = FlowRegistry(flows_dir, clock=self.clock)
        self.flows.load()
        for path, problems in self.flows.errors.items():
            for line in problems:
                log.error("flow rejected: %s", line)
            log.error("flow %s not served until fixed", path)
        self.flows.start()
        if self.speech is not None:
            self.ivr_extra["live_transcripts"] = self.speech
            if self.speech.languages is not None:  # Spanish/auto flows: load base now
                self.speech.languages.prepare(f.language for f in self.flows.flows.values())
        self._http = aiohttp.ClientSession()
        data = self.settings.data_dir
        services = Services(
            http=self._http,
            inputs=interactions,
            case=interactions,  # flows read the case: case_* variables, skip_if_known
            tts=EspeakTts(data / "tts"),
            asr=self.speech.factory if self.speech is not None else None,
            store=self.store,
            recorder=VoicemailBox(data / "recordings"),
            # ivr.verbs.voicemail.LIVE_TRANSCRIPTS: voicemail reuses the live transcript.
            extra=self.ivr_extra,
            router=self.routing.acd if self.routing is not None else UnavailableRouter(),
            # A provider: the CallManager is built after the IVR handler it runs.
            transferer=SipTransferer(
                lambda: self.calls, from_uri_for=sip_from_uri(str(self.settings.sip_listen)),
                plan=self.dialplan,
            ),
        )
        interpreter = Interpreter(self.flows, services, clock=self.clock)
        # Each verb names its node in the call's log context while it runs.
        interpreter.verbs = logged_verbs(interpreter.verbs)
        return interpreter.run

    def health(self) -> dict[str, bool]:
        return {"sip": self.ua is not None and self.started, "http": self.started}

    async def _debug_dial(self, request: web.Request) -> web.Response:
        """POST {"uri": ..., "from": ..., "hangup_after": S}: the demo handler on an outbound call."""
        try:
            body: Any = await read_json(request)
        except JsonBodyError as exc:
            # This debug API's errors are plain strings, as below.
            return web.json_response({"error": exc.message}, status=400)
        if not isinstance(body, dict) or not isinstance(body.get("uri"), str):
            return web.json_response({"error": "'uri' (a SIP URI) is required"}, status=400)
        hangup_after = body.get("hangup_after", self.settings.demo_hangup_after)
        if not isinstance(hangup_after, int | float) or hangup_after <= 0:
            return web.json_response({"error": "'hangup_after' must be > 0 seconds"}, status=400)
        from_uri = body.get("from", f"sip:centralita@{self.settings.sip_listen}")
        if not isinstance(from_uri, str):
            return web.json_response({"error": "'from' must be a SIP URI"}, status=400)
        try:
            SipUri.parse(body["uri"])
            SipUri.parse(from_uri)
        except SipParseError as exc:
            return web.json_response({"error": f"bad SIP URI: {exc.reason}"}, status=400)
        try:
            # The admin's own doing, but the trunk still gets only what the plan allows.
            uri = self.dialplan.route(body["uri"])
        except DialRefused as exc:
            return web.json_response({"error": f"refused by the dial plan: {exc.reason}"},
                                     status=403)
        assert self.calls is not None
        handler = DemoHandler(self.settings.demo_prompt or default_prompt(), float(hangup_after))
        try:
            call = await self.calls.dial(uri, from_uri=from_uri, handler=handler.play_only)
        except SipError as exc:
            return web.json_response({"error": f"call failed: {exc}"}, status=502)
        except (OSError, ValueError) as exc:
            return web.json_response({"error": f"cannot dial: {exc}"}, status=400)
        return web.json_response({"call_id": call.id})

    async def _debug_media(self, request: web.Request) -> web.Response:
        """The media clock's health: legs, lateness percentiles, skipped ticks; SIP counters."""
        t = self.ticker
        return web.json_response({
            "legs": len(t),
            "ticks": t.ticks,
            "skipped_ticks": t.skipped_ticks,
            "tick_errors": t.errors,
            "lateness_ms": {
                "p50": 1000 * t.lateness_percentile(0.50),
                "p99": 1000 * t.lateness_percentile(0.99),
                "max": 1000 * t.lateness_percentile(1.0),
            },
            # With ?samples=1, the window the percentiles cover, oldest first: a bench takes
            # the last (ticks now - ticks before) of them for percentiles over its interval.
            "lateness_samples_ms": [round(1000 * x, 3) for x in t.lateness]
            if request.query.get("samples") == "1" else None,
            "sip": self.ua.metrics if self.ua is not None else {},
        })

    def _node_calls_for(self, board: AcdBoard) -> NodeCalls:
        """This node's calls shared with the other nodes' wallboards (wallboard_nodes)."""
        assert self._redis_bus is not None
        self._node_calls = NodeCalls(
            self._redis_bus.redis, key_prefix=self.settings.routing.key_prefix,
            node_id=self._redis_bus.node_id, local=board.local_calls)
        self._node_calls.start()
        return self._node_calls

    async def stop(self) -> None:
        if self.routing is not None:
            self.routing.desks.stopping()  # closing their sockets logs no agent out
        if self.twilio_voice is not None:
            await self.twilio_voice.close()  # hang up streams while their sockets are open
        if self.browser_calls is not None:
            await self.browser_calls.close()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._metrics_runner is not None:
            await self._metrics_runner.cleanup()
        self.metrics.close()
        if self.monitors is not None:
            await self.monitors.close()
        if self.routing is not None:
            await self.routing.close()
        if self.calls is not None:
            await self.calls.close()
        if self.ua is not None:
            await self.ua.close()
        if self.flows is not None:
            self.flows.stop()
        if self._http is not None:
            await self._http.close()
        if self.twilio is not None:
            await self.twilio.close()
        if self._twilio_calls is not None:
            await self._twilio_calls.close()
        if self.csat is not None:
            await self.csat.close()
            await self.csat.surveys.close()
        if self.preferences is not None:
            await self.preferences.close()
        if self.opt_outs is not None:
            await self.opt_outs.close()
        if self.email is not None:
            await self.email.close()
        if self.speech is not None:
            await self.speech.close()
        if self.post_call is not None:
            await self.post_call.close()
        if self.recordings is not None:
            await self.recordings.close()
        if self.review is not None:
            await self.review.close()
        if self._gdpr_close is not None:
            await self._gdpr_close()
        if self.users is not None:
            await self.users.close()
        if isinstance(self.sessions, RedisSessionStore):
            await self.sessions.close()
        if self.store is not None:
            await self.store.close()
        if self._node_calls is not None:
            await self._node_calls.close()
        if self._desk_relay is not None:
            await self._desk_relay.close()
        if self._redis_bus is not None:
            await self._redis_bus.close()
        await self.ticker.stop()
        if self.tls_reloader is not None:
            await self.tls_reloader.close()


def agent_transcription(
    service: TranscriptionService,
) -> Callable[[Call, Call], Awaitable[None]]:
    """Transcribe the agent's side of a caller's call once they are joined (the caller's
    side is already being transcribed; a new agent after a transfer replaces the last)."""

    async def attach(caller: Call, agent_call: Call) -> None:
        tx = service.get(caller.id)
        media = media_of(agent_call)
        if tx is None or media is None:
            return
        if "agent" in tx.speakers:
            await tx.detach("agent")
        tx.attach(media, "agent")

    return attach


def _webrtc_hosts(http_host: str) -> tuple[str, ...] | None:
    """Where browser softphones' media is offered: loopback only when the desk is served on
    loopback (aioice would otherwise offer every interface), else aioice's choice."""
    if http_host == "localhost":
        return ("127.0.0.1",)
    return (http_host,) if http_host in ("127.0.0.1", "::1") else None


def tune_gc() -> None:
    """Keep the collector off the 20 ms media clock.

    Everything built at start-up (modules, tables, the prompt cache) lives for the whole run:
    `gc.freeze()` moves it out of the collector's view, so full collections no longer walk
    it (measured: 100-420 ms pauses at 700 calls/s). A higher first-generation threshold
    makes young collections rarer; larger values bring back long pauses.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(2000, 10, 10)


async def run_server(settings: Settings) -> None:
    server = Server(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)

    def reload_tls() -> None:
        if server.tls_reloader is not None:
            server.tls_reloader.check()

    with contextlib.suppress(NotImplementedError):
        # A renewed certificate is loaded at once (it is also found by polling).
        loop.add_signal_handler(signal.SIGHUP, reload_tls)
    try:
        await server.start()
        tune_gc()
        # Last: threads started from here on leave the realtime policy (centralita.realtime).
        apply_media_scheduling(settings.media)
        await stop.wait()
    finally:
        await server.stop()
