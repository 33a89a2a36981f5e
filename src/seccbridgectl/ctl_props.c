/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "ctl_props.h"

const struct ctl_value *ctl_props_find(const struct ctl_props *p, const char *name)
{
        for (size_t k = 0; k < p->n; k++)
                if (strcmp(p->v[k].name, name) == 0)
                        return &p->v[k];
        return NULL;
}

int ctl_props_set(struct ctl_props *p, const struct ctl_value *v)
{
        for (size_t k = 0; k < p->n; k++) {
                if (strcmp(p->v[k].name, v->name) == 0) {
                        p->v[k] = *v;
                        return 0;
                }
        }
        if (p->n >= CTL_PROPS_MAX)
                return -ENOSPC;
        p->v[p->n++] = *v;
        return 0;
}

bool ctl_props_equal(const struct ctl_value *a, const struct ctl_value *b)
{
        if (a->type != b->type)
                return false;
        switch (a->type) {
        case CTL_BOOL:
                return a->b == b->b;
        case CTL_DOUBLE:
                return a->d == b->d;
        case CTL_STRING:
                return strcmp(a->s, b->s) == 0;
        case CTL_UNSIGNED:
                return a->u == b->u;
        case CTL_SIGNED:
                return a->i == b->i;
        }
        return false;
}

static bool ctl_props_ends_with(const char *s, const char *suffix)
{
        size_t n = strlen(s), m = strlen(suffix);

        return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Temperatures and the insulation resistance have a "not measured" value. */
static bool ctl_props_unknown(const struct ctl_value *v)
{
        if (v->type == CTL_SIGNED && ctl_props_ends_with(v->name, "Temperature"))
                return v->i == CTL_TEMPERATURE_UNKNOWN;
        /* The controller board's temperature channels. */
        if (v->type == CTL_SIGNED && (strstr(v->name, "Temperature") || strstr(v->name, "PTC") ||
                                      strstr(v->name, "PT1K")))
                return v->i == CTL_TEMPERATURE_UNKNOWN;
        if (v->type == CTL_UNSIGNED && strcmp(v->name, "InsulationResistance") == 0)
                return v->u == CTL_INSULATION_UNKNOWN;
        return false;
}

void ctl_props_text(const struct ctl_value *v, char *buf, size_t len)
{
        if (ctl_props_unknown(v)) {
                snprintf(buf, len, "n/a");
                return;
        }
        switch (v->type) {
        case CTL_BOOL:
                snprintf(buf, len, "%s", v->b ? "yes" : "no");
                break;
        case CTL_DOUBLE:
                /* Powers in whole watts, the rest (V, A) at the 0.1 of the
                 * CAN interface. */
                if (ctl_props_ends_with(v->name, "Power"))
                        snprintf(buf, len, "%.0f", v->d);
                else
                        snprintf(buf, len, "%.1f", v->d);
                break;
        case CTL_STRING:
                snprintf(buf, len, "%s", v->s);
                break;
        case CTL_UNSIGNED:
                snprintf(buf, len, "%" PRIu64, v->u);
                break;
        case CTL_SIGNED:
                snprintf(buf, len, "%" PRId64, v->i);
                break;
        }
}

void ctl_props_json_string(FILE *out, const char *s)
{
        fputc('"', out);
        for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
                switch (*c) {
                case '"':
                        fputs("\\\"", out);
                        break;
                case '\\':
                        fputs("\\\\", out);
                        break;
                case '\n':
                        fputs("\\n", out);
                        break;
                case '\r':
                        fputs("\\r", out);
                        break;
                case '\t':
                        fputs("\\t", out);
                        break;
                default:
                        if (*c < 0x20)
                                fprintf(out, "\\u%04x", *c);
                        else
                                fputc(*c, out);
                        break;
                }
        }
        fputc('"', out);
}

void ctl_props_json_value(FILE *out, const struct ctl_value *v)
{
        if (ctl_props_unknown(v)) {
                fputs("null", out);
                return;
        }
        switch (v->type) {
        case CTL_BOOL:
                fputs(v->b ? "true" : "false", out);
                break;
        case CTL_DOUBLE:
                if (isfinite(v->d))
                        fprintf(out, "%.10g", v->d);
                else
                        fputs("null", out);
                break;
        case CTL_STRING:
                ctl_props_json_string(out, v->s);
                break;
        case CTL_UNSIGNED:
                fprintf(out, "%" PRIu64, v->u);
                break;
        case CTL_SIGNED:
                fprintf(out, "%" PRId64, v->i);
                break;
        }
}

void ctl_props_print_json(FILE *out, const struct ctl_props *p)
{
        fputc('{', out);
        for (size_t k = 0; k < p->n; k++) {
                if (k > 0)
                        fputs(", ", out);
                ctl_props_json_string(out, p->v[k].name);
                fputs(": ", out);
                ctl_props_json_value(out, &p->v[k]);
        }
        fputs("}\n", out);
}

void ctl_props_print_change(FILE *out, const char *time, const struct ctl_value *v)
{
        char text[CTL_TEXT_MAX];

        ctl_props_text(v, text, sizeof(text));
        if (v->type == CTL_STRING && text[0] == '\0')
                snprintf(text, sizeof(text), "\"\"");
        fprintf(out, "%s %s=%s\n", time, v->name, text);
}

/* ---- the status screen ---- */

/* A property as text, "?" when the daemon did not send it. */
static const char *ctl_props_get(const struct ctl_props *p, const char *name, char *buf, size_t len)
{
        const struct ctl_value *v = ctl_props_find(p, name);

        if (!v)
                snprintf(buf, len, "?");
        else
                ctl_props_text(v, buf, len);
        return buf;
}

static bool ctl_props_true(const struct ctl_props *p, const char *name)
{
        const struct ctl_value *v = ctl_props_find(p, name);

        return v && v->type == CTL_BOOL && v->b;
}

static bool ctl_props_zero(const struct ctl_props *p, const char *name)
{
        const struct ctl_value *v = ctl_props_find(p, name);

        return !v || (v->type == CTL_DOUBLE && v->d == 0);
}

static bool ctl_props_empty(const struct ctl_props *p, const char *name)
{
        const struct ctl_value *v = ctl_props_find(p, name);

        return !v || (v->type == CTL_STRING && v->s[0] == '\0');
}

static void ctl_props_line(FILE *out, const char *label, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void ctl_props_line(FILE *out, const char *label, const char *fmt, ...)
{
        va_list ap;

        fprintf(out, "%-14s", label);
        va_start(ap, fmt);
        vfprintf(out, fmt, ap);
        va_end(ap);
        fputc('\n', out);
}

/* "1 (external)": a Sequence_Control flag and who sets it. */
static void ctl_props_flag(const struct ctl_props *p, const char *name, const char *source, char *buf,
                           size_t len)
{
        char src[32];

        if (source)
                snprintf(buf, len, "%d (%s)", ctl_props_true(p, name) ? 1 : 0,
                         ctl_props_get(p, source, src, sizeof(src)));
        else
                snprintf(buf, len, "%d", ctl_props_true(p, name) ? 1 : 0);
}

/* Interface version 3: the last DC_Power_Control, the EV information and
 * the CSMS's setpoint, when the session has them. */
static void ctl_props_print_v3(FILE *out, const struct ctl_props *p)
{
        char a[CTL_TEXT_MAX], b[CTL_TEXT_MAX], c[CTL_TEXT_MAX], d[CTL_TEXT_MAX], e[CTL_TEXT_MAX];
        char f[CTL_TEXT_MAX], g[CTL_TEXT_MAX], h[CTL_TEXT_MAX], k[CTL_TEXT_MAX];

        if (!ctl_props_empty(p, "PowerFunction"))
                ctl_props_line(out, "power control", "%s, %s; output contactors %s, lowering %s",
                               ctl_props_get(p, "PowerFunction", a, sizeof(a)),
                               ctl_props_get(p, "SetpointsMode", b, sizeof(b)),
                               ctl_props_get(p, "OutputContactors", c, sizeof(c)),
                               ctl_props_true(p, "LowerOutputVoltage") ? "asked" : "no");
        if (!ctl_props_true(p, "SessionActive"))
                return;
        if (!ctl_props_zero(p, "EVMinimumVoltage") || !ctl_props_zero(p, "EVPresentVoltage") ||
            !ctl_props_zero(p, "EVMaximumChargePower") || !ctl_props_zero(p, "EVMaximumDischargeCurrent")) {
                ctl_props_line(out, "EV", "voltage min %s present %s V; charge min %s A, %s..%s W; "
                               "discharge %s..%s A, %s..%s W",
                               ctl_props_get(p, "EVMinimumVoltage", a, sizeof(a)),
                               ctl_props_get(p, "EVPresentVoltage", b, sizeof(b)),
                               ctl_props_get(p, "EVMinimumChargeCurrent", c, sizeof(c)),
                               ctl_props_get(p, "EVMinimumChargePower", d, sizeof(d)),
                               ctl_props_get(p, "EVMaximumChargePower", e, sizeof(e)),
                               ctl_props_get(p, "EVMinimumDischargeCurrent", f, sizeof(f)),
                               ctl_props_get(p, "EVMaximumDischargeCurrent", g, sizeof(g)),
                               ctl_props_get(p, "EVMinimumDischargePower", h, sizeof(h)),
                               ctl_props_get(p, "EVMaximumDischargePower", k, sizeof(k)));
                ctl_props_line(out, "", "SoC min %s target %s max %s %%; energy request min %s target %s max %s kWh",
                               ctl_props_get(p, "MinimumStateOfCharge", a, sizeof(a)),
                               ctl_props_get(p, "TargetStateOfCharge", b, sizeof(b)),
                               ctl_props_get(p, "MaximumStateOfCharge", c, sizeof(c)),
                               ctl_props_get(p, "EVMinimumEnergyRequest", d, sizeof(d)),
                               ctl_props_get(p, "EVTargetEnergyRequest", e, sizeof(e)),
                               ctl_props_get(p, "EVMaximumEnergyRequest", f, sizeof(f)));
        }
        if (ctl_props_true(p, "DynamicTarget"))
                ctl_props_line(out, "OCPP", "dynamic target %s A",
                               ctl_props_get(p, "DynamicTargetCurrent", a, sizeof(a)));
}

/* "0 1 0 0": digital inputs PREFIX<first>..PREFIX<first + n - 1>. */
static void ctl_props_bits(const struct ctl_props *p, const char *prefix, unsigned first, unsigned n, char *buf,
                           size_t len)
{
        size_t at = 0;

        buf[0] = '\0';
        for (unsigned i = 0; i < n && at < len; i++) {
                char name[CTL_NAME_MAX];

                snprintf(name, sizeof(name), "%s%u", prefix, first + i);
                at += (size_t)snprintf(buf + at, len - at, "%s%d", i ? " " : "", ctl_props_true(p, name) ? 1 : 0);
        }
}

/* The controller's own I/O: its board's inputs and temperatures, the CP and
 * MCS lines, the outputs driven; a line only for what the daemon has. */
static void ctl_props_print_io(FILE *out, const struct ctl_props *p)
{
        char a[CTL_TEXT_MAX], b[CTL_TEXT_MAX], c[CTL_TEXT_MAX], d[CTL_TEXT_MAX], e[CTL_TEXT_MAX];

        if (ctl_props_true(p, "CUI1Inputs")) {
                ctl_props_bits(p, "CUI1Switch", 0, 6, a, sizeof(a));
                ctl_props_line(out, "controller io", "ADM-CO-CUI1 switches %s; Colibri %s, CPU %s, PTC1 %s, PTC2 %s degC", a,
                               ctl_props_get(p, "CUI1ColibriTemperature", b, sizeof(b)),
                               ctl_props_get(p, "CUI1CPUTemperature", c, sizeof(c)),
                               ctl_props_get(p, "CUI1PistolPTC1", d, sizeof(d)),
                               ctl_props_get(p, "CUI1PistolPTC2", e, sizeof(e)));
        }
        if (ctl_props_true(p, "SECCInputs")) {
                ctl_props_bits(p, "SECCDigitalInput", 1, 4, a, sizeof(a));
                ctl_props_line(out, "controller io", "ADM-CS-SECC inputs %s; CPU %s, PTC1 %s, PTC2 %s degC", a,
                               ctl_props_get(p, "SECCCPUTemperature", b, sizeof(b)),
                               ctl_props_get(p, "SECCPistolPTC1", c, sizeof(c)),
                               ctl_props_get(p, "SECCPistolPTC2", d, sizeof(d)));
        }
        if (ctl_props_true(p, "SPCCInputs")) {
                char f[CTL_TEXT_MAX], g[CTL_TEXT_MAX];

                ctl_props_bits(p, "SPCCDigitalInput", 1, 4, a, sizeof(a));
                ctl_props_line(out, "controller io", "ADM-CS-SPCC inputs %s; CPU %s/%s, PT1K A %s B %s, PT1KS C %s D %s degC",
                               a, ctl_props_get(p, "SPCCCPUTemperature0", b, sizeof(b)),
                               ctl_props_get(p, "SPCCCPUTemperature1", c, sizeof(c)),
                               ctl_props_get(p, "SPCCPT1KA", d, sizeof(d)), ctl_props_get(p, "SPCCPT1KB", e, sizeof(e)),
                               ctl_props_get(p, "SPCCPT1KSC", f, sizeof(f)),
                               ctl_props_get(p, "SPCCPT1KSD", g, sizeof(g)));
        }
        if (!ctl_props_empty(p, "CPState"))
                ctl_props_line(out, "controller io", "CP state %s, duty cycle %s %%",
                               ctl_props_get(p, "CPState", a, sizeof(a)),
                               ctl_props_get(p, "CPDutyCycle", b, sizeof(b)));
        if (!ctl_props_empty(p, "MCSCEState"))
                ctl_props_line(out, "controller io", "MCS CE %s, ID %s", ctl_props_get(p, "MCSCEState", a, sizeof(a)),
                               ctl_props_get(p, "MCSIDState", b, sizeof(b)));
        if (!ctl_props_empty(p, "OutputsBoard") && strcmp(ctl_props_find(p, "OutputsBoard")->s, "none") != 0) {
                ctl_props_bits(p, "Output", 1, 4, b, sizeof(b));
                ctl_props_line(out, "outputs", "%s: outputs %s; LEDs %s %s %s",
                               ctl_props_get(p, "OutputsBoard", a, sizeof(a)), b,
                               ctl_props_get(p, "Led1", c, sizeof(c)), ctl_props_get(p, "Led2", d, sizeof(d)),
                               ctl_props_get(p, "Led3", e, sizeof(e)));
        }
}

/* Bidirectional power (B1..B6): shown when configured, or when something
 * was refused or reversed. */
static void ctl_props_print_bidirectional(FILE *out, const struct ctl_props *p)
{
        char a[CTL_TEXT_MAX], b[CTL_TEXT_MAX], c[CTL_TEXT_MAX], d[CTL_TEXT_MAX], e[CTL_TEXT_MAX + 4];

        if (!ctl_props_true(p, "Bidirectional") && ctl_props_zero(p, "DischargesRefused") &&
            ctl_props_zero(p, "ModeChangesRefused"))
                return;
        if (ctl_props_true(p, "RangeTargetSet"))
                snprintf(e, sizeof(e), "%s A", ctl_props_get(p, "RangeTarget", d, sizeof(d)));
        else
                snprintf(e, sizeof(e), "none");
        ctl_props_line(out, "bidirectional", "%s; discharge %s A %s W in force; range policy %s, operator target %s%s",
                       ctl_props_true(p, "Bidirectional") ? "yes" : "no",
                       ctl_props_get(p, "MaxDischargeCurrent", a, sizeof(a)),
                       ctl_props_get(p, "MaxDischargePower", b, sizeof(b)),
                       ctl_props_get(p, "RangePolicy", c, sizeof(c)), e,
                       ctl_props_true(p, "DirectionChangePending") ? "; at 0 A until the converter confirms" : "");
        ctl_props_line(out, "", "discharges refused %s, mode changes refused %s, direction changes %s",
                       ctl_props_get(p, "DischargesRefused", a, sizeof(a)),
                       ctl_props_get(p, "ModeChangesRefused", b, sizeof(b)),
                       ctl_props_get(p, "DirectionChanges", c, sizeof(c)));
}

void ctl_props_print_status(FILE *out, const char *bus_name, const struct ctl_props *p)
{
        char a[CTL_TEXT_MAX], b[CTL_TEXT_MAX], c[CTL_TEXT_MAX], d[CTL_TEXT_MAX], e[CTL_TEXT_MAX];
        char f[4 * CTL_TEXT_MAX], g[CTL_TEXT_MAX];

        fprintf(out, "seccbridge %s, pistol %s (%s)\n", ctl_props_get(p, "Version", a, sizeof(a)),
                ctl_props_get(p, "Pistol", b, sizeof(b)), bus_name);

        ctl_props_line(out, "CAN", "%s %s", ctl_props_get(p, "CANInterface", a, sizeof(a)),
                       ctl_props_true(p, "CANUp") ? "up" : "down");
        ctl_props_line(out, "interface", "version %s", ctl_props_get(p, "InterfaceVersion", a, sizeof(a)));

        if (ctl_props_true(p, "ControllerAlive"))
                ctl_props_line(out, "controller", "%s", ctl_props_get(p, "ControllerState", a, sizeof(a)));
        else
                ctl_props_line(out, "controller", "absent (no heartbeat; last state %s)",
                               ctl_props_get(p, "ControllerState", a, sizeof(a)));

        if (ctl_props_true(p, "SessionActive"))
                ctl_props_line(out, "session", "open%s; %s, %s; EV max %s V %s A, %s kWh, SoC %s %%",
                               ctl_props_true(p, "ChargeStarted") ? ", charge started" : "",
                               ctl_props_get(p, "Protocol", a, sizeof(a)), ctl_props_get(p, "Plug", b, sizeof(b)),
                               ctl_props_get(p, "EVMaximumVoltage", c, sizeof(c)),
                               ctl_props_get(p, "EVMaximumCurrent", d, sizeof(d)),
                               ctl_props_get(p, "BatteryCapacity", e, sizeof(e)),
                               ctl_props_get(p, "StateOfCharge", f, sizeof(f)));
        else
                ctl_props_line(out, "session", "none");
        /* EV_ID_CCS_Part2_DIN: what an external authoriser looks at. */
        if (ctl_props_find(p, "EVCCID"))
                ctl_props_line(out, "EVCCID", "%s", ctl_props_empty(p, "EVCCID") ? "none"
                                                                                  : ctl_props_find(p, "EVCCID")->s);

        ctl_props_line(out, "request", "%s %s V %s A", ctl_props_get(p, "Request", a, sizeof(a)),
                       ctl_props_get(p, "RequestVoltage", b, sizeof(b)),
                       ctl_props_get(p, "RequestCurrent", c, sizeof(c)));
        ctl_props_print_v3(out, p);

        if (ctl_props_true(p, "Supervisor"))
                ctl_props_line(out, "converter", "none: supervisor mode (the controller's own power modules)");
        else
                ctl_props_line(out, "converter", "%s: %s %s V %s A%s; link %s, %s, %s%s%s",
                               ctl_props_get(p, "ConverterBackend", a, sizeof(a)),
                               ctl_props_get(p, "CommandMode", b, sizeof(b)),
                               ctl_props_get(p, "CommandVoltage", c, sizeof(c)),
                               ctl_props_get(p, "CommandCurrent", d, sizeof(d)),
                               ctl_props_true(p, "CommandDischarge") ? ", discharging" : "",
                               ctl_props_true(p, "ConverterLink") ? "up" : "down",
                               ctl_props_true(p, "ConverterReady") ? "ready" : "not ready",
                               ctl_props_true(p, "ConverterFault") ? "FAULT" : "no fault",
                               ctl_props_empty(p, "ConverterError") ? "" : " - ",
                               ctl_props_empty(p, "ConverterError") ? "" : ctl_props_get(p, "ConverterError", e, sizeof(e)));

        ctl_props_line(out, "measured", "%s V %s A; module %s degC, enclosure %s degC; insulation %s kOhm",
                       ctl_props_get(p, "Voltage", a, sizeof(a)), ctl_props_get(p, "Current", b, sizeof(b)),
                       ctl_props_get(p, "ModuleTemperature", c, sizeof(c)),
                       ctl_props_get(p, "EnclosureTemperature", d, sizeof(d)),
                       ctl_props_get(p, "InsulationResistance", e, sizeof(e)));

        ctl_props_print_io(out, p);

        if (ctl_props_true(p, "EmergencyStop"))
                snprintf(f, sizeof(f), "latched (origin %s%s)", ctl_props_get(p, "EmergencyStopOrigin", e, sizeof(e)),
                         ctl_props_true(p, "EmergencyStopActive") ? ", still active" : "");
        else
                snprintf(f, sizeof(f), "none");
        ctl_props_line(out, "System_Enable", "%s; fault %s; emergency stop %s",
                       ctl_props_true(p, "SystemEnable") ? "Allowed" : "Not_Allowed",
                       ctl_props_get(p, "Fault", a, sizeof(a)), f);

        if (ctl_props_true(p, "SequenceFlags")) {
                ctl_props_flag(p, "StartAuthorisation", "StartAuthorisationSource", a, sizeof(a));
                ctl_props_flag(p, "CCSAuthorisationDone", NULL, b, sizeof(b));
                ctl_props_flag(p, "CCSAuthorisationValid", "CCSAuthorisationSource", c, sizeof(c));
                ctl_props_flag(p, "ChargeParametersDone", "ChargeParametersSource", d, sizeof(d));
                ctl_props_line(out, "sequence",
                               "Start_Charge_Authorisation %s, CCS_Authorisation_Done %s Valid %s, "
                               "Charge_Parameters_Done %s, User_Stop_Button %d, CHAdeMO_Start_Button %d",
                               a, b, c, d, ctl_props_true(p, "UserStopButton") ? 1 : 0,
                               ctl_props_true(p, "CHAdeMOStartButton") ? 1 : 0);
        } else {
                ctl_props_line(out, "sequence", "not used (use_sequence_flags = false)");
        }

        if (ctl_props_zero(p, "DynamicMaxVoltage") && ctl_props_zero(p, "DynamicMaxCurrent") &&
            ctl_props_zero(p, "DynamicMaxPower"))
                snprintf(f, sizeof(f), "none");
        else
                snprintf(f, sizeof(f), "%s V %s A %s W", ctl_props_get(p, "DynamicMaxVoltage", a, sizeof(a)),
                         ctl_props_get(p, "DynamicMaxCurrent", b, sizeof(b)),
                         ctl_props_get(p, "DynamicMaxPower", c, sizeof(c)));
        ctl_props_line(out, "limits", "%s V %s A %s W in force; operator %s",
                       ctl_props_get(p, "MaxVoltage", a, sizeof(a)), ctl_props_get(p, "MaxCurrent", b, sizeof(b)),
                       ctl_props_get(p, "MaxPower", c, sizeof(c)), f);
        ctl_props_line(out, "", "config %s V %s A %s W; precharge %s A, insulation test %s A",
                       ctl_props_get(p, "ConfigMaxVoltage", a, sizeof(a)),
                       ctl_props_get(p, "ConfigMaxCurrent", b, sizeof(b)),
                       ctl_props_get(p, "ConfigMaxPower", c, sizeof(c)),
                       ctl_props_get(p, "PrechargeMaxCurrent", d, sizeof(d)),
                       ctl_props_get(p, "InsulationMaxCurrent", e, sizeof(e)));
        ctl_props_print_bidirectional(out, p);

        ctl_props_line(out, "frames", "in %s, out %s, malformed %s, foreign %s; rejected requests %s",
                       ctl_props_get(p, "FramesIn", a, sizeof(a)), ctl_props_get(p, "FramesOut", b, sizeof(b)),
                       ctl_props_get(p, "FramesMalformed", c, sizeof(c)),
                       ctl_props_get(p, "FramesForeign", d, sizeof(d)),
                       ctl_props_get(p, "RejectedRequests", e, sizeof(e)));
        ctl_props_line(out, "", "controller timeouts %s, emergency stops %s, converter errors %s",
                       ctl_props_get(p, "ControllerTimeouts", a, sizeof(a)),
                       ctl_props_get(p, "EmergencyStops", b, sizeof(b)),
                       ctl_props_get(p, "ConverterErrors", c, sizeof(c)));
        ctl_props_line(out, "", "other interface version %s, undefined power functions %s",
                       ctl_props_get(p, "FramesOtherVersion", a, sizeof(a)),
                       ctl_props_get(p, "UndefinedPowerFunctions", b, sizeof(b)));
        if (ctl_props_find(p, "FramesMalformedIO"))
                ctl_props_line(out, "", "malformed controller I/O frames %s",
                               ctl_props_get(p, "FramesMalformedIO", a, sizeof(a)));
        ctl_props_line(out, "CAN counters", "rx %s, tx %s, tx dropped %s, tx errors %s, kernel drops %s, "
                       "error frames %s, reopens %s",
                       ctl_props_get(p, "CANRxFrames", a, sizeof(a)), ctl_props_get(p, "CANTxFrames", b, sizeof(b)),
                       ctl_props_get(p, "CANTxDropped", c, sizeof(c)), ctl_props_get(p, "CANTxErrors", d, sizeof(d)),
                       ctl_props_get(p, "CANRxKernelDrops", e, sizeof(e)),
                       ctl_props_get(p, "CANErrorFrames", f, sizeof(f)),
                       ctl_props_get(p, "CANReopens", g, sizeof(g)));
}
