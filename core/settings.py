"""The one place configuration is read: environment, `.env`, and Streamlit's `secrets.toml`.

Nothing else in the project reads `os.environ`. `core` never imports streamlit, so Streamlit secrets are read here
straight from `.streamlit/secrets.toml` (the same file `st.secrets` reads).
"""

from __future__ import annotations

import json
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
FACE_LANDMARKER_SHA256 = "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"
# face-api's expression network as ONNX, written by scripts/convert_faceapi.py (see models/faceapi/SOURCE.json).
FACEAPI_MODEL_SHA256 = "73abab242f23102079d841bb7b6f0c15a39906b7e342258800b651fae4e137b1"
_PLACEHOLDER_SECRETS = {"changeme", "change-me", "your-api-key", "your_api_key", "xxx", "todo", "none", "placeholder"}


def secrets_files() -> list[Path]:
    """The secrets.toml files read, in Streamlit's order (a later file's keys win): the user's
    `~/.streamlit/secrets.toml`, then `.streamlit/secrets.toml` in the working directory (else the project root)."""
    files = [Path.home() / ".streamlit" / "secrets.toml"]
    local = [folder / ".streamlit" / "secrets.toml" for folder in (Path.cwd(), PROJECT_ROOT)]
    files += [path for path in local if path.is_file()][:1]
    return files


class _StreamlitSecretsSource(PydanticBaseSettingsSource):
    """Reads flat keys from the secrets.toml files Streamlit reads (see `secrets_files`)."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        self._data: dict[str, Any] = {}
        for path in secrets_files():
            if not path.is_file():
                continue
            try:
                self._data.update({k.lower(): v for k, v in tomllib.loads(path.read_text()).items()})
            except (OSError, tomllib.TOMLDecodeError):
                continue

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        names = [field_name]
        if isinstance(field.validation_alias, AliasChoices):
            names += [str(c) for c in field.validation_alias.choices]
        for name in names:
            if name.lower() in self._data:
                return self._data[name.lower()], name, False
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        # Streamlit's native sign-in reads the [auth] table; its presence is what turns team mode on.
        if isinstance(self._data.get("auth"), dict):
            out["oidc_configured"] = True
        for name, field in self.settings_cls.model_fields.items():
            value, _, _ = self.get_field_value(field, name)
            if value is not None:
                out[name] = value
        return out


class Settings(BaseSettings):
    """Expression Studio configuration. Every field can be set as an environment variable of the same name."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True)

    data_root: Path = Field(default=PROJECT_ROOT / "data", description="Images, database and exports live here.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default sqlite:///<data_root>/studio.db. PostgreSQL works too."
    )
    models_dir: Path = Field(default=PROJECT_ROOT / "models", description="Model registry root.")
    face_landmarker_path: Path = Field(default=PROJECT_ROOT / "models" / "face_landmarker.task")
    face_landmarker_sha256: str = FACE_LANDMARKER_SHA256
    faceapi_model_path: Path = Field(default=PROJECT_ROOT / "models" / "faceapi" / "face_expression.onnx")
    faceapi_model_sha256: str = FACEAPI_MODEL_SHA256

    gemini_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("gemini_api_key", "GEMINI_API_KEY", "GOOGLE_API_KEY")
    )
    gemini_base_url: str | None = Field(default=None, description="Override the Gemini endpoint (tests, proxies).")
    gemini_vertex: bool = False
    gemini_image_model: str = "gemini-2.5-flash-image"
    gemini_label_model: str = "gemini-2.5-flash"
    gemini_concurrency: int = Field(default=8, ge=1, le=256)
    gemini_rpm: int = Field(default=60, ge=1, description="Requests per minute the limiter allows.")
    gemini_timeout_s: float = Field(default=60.0, gt=0)
    gemini_max_retries: int = Field(default=4, ge=0)

    extract_workers: int = Field(default=0, ge=0, description="Worker processes for extraction; 0 means one per core.")
    executor: Literal["inline", "local", "ray"] = Field(
        default="local",
        description="Where extraction, grid searches, scoring, folder evaluation and torch training run: local "
        "(processes on this machine), inline (all in the calling process) or ray (a Ray cluster; see README "
        "'Scaling out').",
    )
    ray_address: str = Field(
        default="",
        description='Ray cluster to join when EXECUTOR=ray, e.g. "10.0.0.5:6379" or "auto"; empty starts a Ray '
        "in this process (one machine).",
    )
    max_image_side: int = Field(default=1600, ge=128, description="Larger images are downscaled before detection.")
    max_image_pixels: int = Field(
        default=50_000_000, ge=1_000_000, description="Images with more pixels (from the header) are refused undecoded."
    )
    import_max_file_mb: float = Field(
        default=100.0, gt=0, description="Largest file an import reads (a zip member: uncompressed)."
    )
    zip_max_total_mb: float = Field(default=4096.0, gt=0, description="Uncompressed bytes read from one zip at most.")
    resnet_weights_path: Path | None = Field(default=None, description="Local ImageNet ResNet-50 weights file.")

    ice_servers: Annotated[list[dict[str, Any]], NoDecode] = Field(
        default_factory=list, description='WebRTC ICE servers, e.g. [{"urls": ["stun:stun.example.org:3478"]}].'
    )
    api_cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    api_max_upload_mb: float = Field(default=8.0, gt=0)
    api_max_decodes: int = Field(default=2, ge=1, description="Images the API decodes at once (bounds its memory).")
    log_level: str = "INFO"

    auth_mode: Literal["local", "team"] | None = Field(
        default=None,
        description="local: one implicit admin user (laptop use); team: OIDC sign-in and roles required. Unset: "
        "team when secrets.toml has an [auth] section, else local (refused on a non-loopback address).",
    )
    oidc_configured: bool = Field(
        default=False, description="Set from secrets.toml: it has an [auth] section for Streamlit's st.login."
    )
    admin_emails: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Always admins when they sign in."
    )
    default_role: Literal["viewer", "labeler", "trainer", "admin"] = Field(
        default="viewer", description="The role of someone signing in for the first time."
    )
    allowed_email_domains: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="If set, only e-mails of these domains may sign in (ADMIN_EMAILS always)."
    )
    starter_model: bool = Field(
        default=True,
        description="Copy the shipped starter model into MODELS_DIR when it has none, so that any models folder "
        "starts with a working model (a separate MODELS_DIR included).",
    )
    identity_claim: str | None = Field(
        default=None,
        description="Team mode: an ID-token claim used as the identity when the provider sends no `email` claim "
        "(e.g. `upn`). Off by default; set it only to a claim your provider verifies. `sub` is never accepted.",
    )
    import_roots: Annotated[list[Path] | None, NoDecode] = Field(
        default=None,
        description="Folders that dashboard imports may read. Unset: <data_root>/inbox in team mode, anywhere in "
        "local mode. The CLI is not restricted.",
    )
    api_require_key: bool | None = Field(
        default=None, description="Whether /api/predict* need an API key. Unset: yes in team mode, no in local mode."
    )
    api_rate_per_min: int = Field(default=60, ge=1, description="Requests per minute allowed to each API key.")
    suite_drop_margin: float = Field(
        default=0.02,
        ge=0.0,
        le=1.0,
        description="Promotion on an evaluation suite: a new model whose macro-F1 drops by more than this on any "
        "domain stays inactive, even when its worst domain is better.",
    )
    start_worker: bool = Field(
        default=True,
        description="The dashboard starts one job worker (python -m core worker) for itself when none is alive. "
        "Turn off where workers run separately.",
    )
    job_heartbeat_s: float = Field(
        default=2.0, gt=0, description="How often a worker records a running job's progress."
    )
    job_stale_after_s: float = Field(
        default=60.0, gt=0, description="A running job whose heartbeat is older than this goes back to the queue."
    )
    job_cancel_grace_s: float = Field(
        default=30.0,
        gt=0,
        description="How long a cancelled job may take to stop by itself (keeping its finished work) before its "
        "supervisor kills its processes.",
    )
    job_timeout_s: float = Field(
        default=86400.0, gt=0, description="A job running longer than this is killed and marked failed."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, dotenv_settings, _StreamlitSecretsSource(settings_cls))

    @field_validator("gemini_api_key")
    @classmethod
    def _refuse_placeholder(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        raw = value.get_secret_value().strip()
        if not raw:
            return None
        if raw.lower() in _PLACEHOLDER_SECRETS:
            raise ValueError("GEMINI_API_KEY is a placeholder; set a real key or leave it unset")
        return SecretStr(raw)

    @field_validator("executor", mode="before")
    @classmethod
    def _executor_lower(cls, value: Any) -> Any:
        return value.strip().lower() or "local" if isinstance(value, str) else value

    @field_validator("auth_mode", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        # AUTH_MODE= (set but empty) means "decide from [auth]", as if it were not set.
        if isinstance(value, str):
            return value.strip().lower() or None
        return value

    @field_validator("identity_claim", mode="before")
    @classmethod
    def _identity_claim(cls, value: Any) -> Any:
        # `sub` is whatever the provider lets a user pick: never an identity checked against ADMIN_EMAILS.
        if isinstance(value, str):
            value = value.strip() or None
            if value == "sub":
                raise ValueError("IDENTITY_CLAIM=sub is refused: `sub` is not a verified address")
        return value

    @field_validator(
        "ice_servers", "api_cors_origins", "import_roots", "admin_emails", "allowed_email_domains", mode="before"
    )
    @classmethod
    def _parse_json_list(cls, value: Any) -> Any:
        # The fields are NoDecode, so an environment value reaches this as text: a JSON list or comma-separated.
        if isinstance(value, str):
            value = value.strip()
            if not value:
                return []
            if value.startswith("["):
                return json.loads(value)
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_root / 'studio.db'}"

    @property
    def exports_dir(self) -> Path:
        return self.data_root / "exports"

    @property
    def team_mode(self) -> bool:
        """Sign-in, roles, import roots and API keys apply (a shared server), rather than one local user: whenever
        `[auth]` is configured or AUTH_MODE=team."""
        return self.auth_mode == "team" or self.oidc_configured

    @property
    def resolved_import_roots(self) -> list[Path] | None:
        """The folders dashboard imports may read; None means anywhere (local mode without IMPORT_ROOTS)."""
        if self.import_roots is not None:
            return list(self.import_roots)
        return [self.data_root / "inbox"] if self.team_mode else None

    @property
    def requires_api_key(self) -> bool:
        return self.team_mode if self.api_require_key is None else self.api_require_key

    @property
    def has_gemini_key(self) -> bool:
        return self.gemini_api_key is not None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
